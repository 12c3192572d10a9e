/**
 * Session records stored REJECTED before the fix of 2026-11-28 (see session-record-rejected-reprocess.test.ts):
 * wallets had committed their money through the session's reservation, but the row kept no trace of it
 * (charge_status NONE, no figures), so a reprocess after the cause was fixed sent a ChargeRequest and
 * the customer paid twice. Migration …221000000_precharged_session_rejections marks such rows APPLIED
 * (by the evidence the row itself carries: source `ocs`, no fingerprint, a commit's event id of a known
 * charging session), so the reprocess rates them as precharged. It leaves alone an `:unreserved` record
 * (units no reservation covered: charged by its own ChargeRequest, so a rejected one was never charged)
 * and ordinary CDRs.
 *
 * Against the real wallets service (child process, own schema) on a private nats-server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { MARK_PRECHARGED_SESSION_REJECTIONS } from '../src/persistence/migrations/Migration20261221000000_precharged_session_rejections';
import { migrations } from '../src/persistence/migrations';
import { recordId } from '../src/application/usage-pipeline';
import { sessionRecordKey } from '../src/application/charging-session';
import { CHARGED_RECORDS, RECORD_USAGE, UPSERT_LINE_CONTEXT, setLine, storedChargeRequests, waitFor } from './support';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_srl${run}`;
const account = `acc_srl${run}`;
const msisdn = '+4915100007472';
let walletId: string;

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { id eventId status rejectionCode } } }`;

async function subscriptionEnding(endsAt: string | null, at: Date): Promise<void> {
  const res = await oc.svc.request(UPSERT_LINE_CONTEXT, {
    input: {
      lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: at.toISOString(),
      subscription: { subscriptionId: `sub_${lineId}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_postpaid', planVersionId: 'plv_postpaid', startsAt: '2026-01-01T00:00:00Z', endsAt },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

const unbilled = async () => dec(await oc.wallets.unbilledOf(walletId)).toFixed();
const chargeStatusOf = async (id: string) => (await oc.db.query(`select charge_status from usage_record where id = $1`, [id])).rows[0]?.charge_status as string | undefined;

beforeAll(async () => {
  walletId = await oc.wallets.postpaidWallet(account, lineId);
  await setLine(oc.svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

describe('migration precharged_session_rejections: legacy REJECTED session records', () => {
  it('is in the migration list, after the charge_outcomes migration', () => {
    const names = migrations.map((m) => m.name);
    expect(names.indexOf('Migration20261221000000_precharged_session_rejections')).toBeGreaterThan(names.indexOf('Migration20261215000000_charge_outcomes'));
  });

  it('marks a legacy session record so its reprocess charges nothing again; ordinary and :unreserved records stay as they were', async () => {
    const sessionId = `gy-srl-${run}`;
    expect(await oc.ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', roamingCountry: 'US', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    await subscriptionEnding(new Date(Date.now() - 3_600_000).toISOString(), new Date());
    const done = await oc.ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' });
    expect(done).toMatchObject({ resultCode: 'SUCCESS' });
    const sessionRecord = done.usageRecordId!;
    expect(await unbilled()).toBe('4.9');

    // The row as the code before the fix stored it: REJECTED, charge_status NONE, no figures.
    await oc.db.query(`update usage_record set charge_status = 'NONE', amount_charged = null, units_from_allowances = null where id = $1`, [sessionRecord]);
    const { rows: [legacy] } = await oc.db.query(`select source, status, charge_status, fingerprint, charge from usage_record where id = $1`, [sessionRecord]);
    expect(legacy).toEqual({ source: 'ocs', status: 'REJECTED', charge_status: 'NONE', fingerprint: null, charge: null });
    // A REJECTED `:unreserved` record of the session (never charged: its ChargeRequest goes out when it is rated).
    const unreservedEventId = `${sessionId}#1:unreserved`;
    const unreserved = recordId('ocs', unreservedEventId);
    await oc.db.query(`create temp table legacy_copy as select * from usage_record where id = $1`, [sessionRecord]);
    await oc.db.query(`update legacy_copy set id = $1, event_id = $2`, [unreserved, unreservedEventId]);
    await oc.db.query(`insert into usage_record select * from legacy_copy`);
    // An ordinary CDR rejected for the same cause.
    const cdr = await oc.svc.request(RECORD_USAGE, { input: { source: `srl-${run}`, records: [{ eventId: 'cdr-1', lineId, usageType: 'DATA', roamingCountry: 'US', quantity: '1', occurredAt: new Date(Date.now() - 30_000).toISOString() }] } });
    expect(cdr.data.recordUsage.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'SUBSCRIPTION_NOT_FOUND' });
    const cdrId = cdr.data.recordUsage.results[0].id as string;

    // The migration's statement, on these rows.
    await oc.db.query(MARK_PRECHARGED_SESSION_REJECTIONS);
    expect({ session: await chargeStatusOf(sessionRecord), unreserved: await chargeStatusOf(unreserved), cdr: await chargeStatusOf(cdrId) }).toEqual({
      session: 'APPLIED',
      unreserved: 'NONE',
      cdr: 'NONE',
    });
    // Run again: nothing more changes.
    expect((await oc.db.query(MARK_PRECHARGED_SESSION_REJECTIONS)).rowCount).toBe(0);

    // The cause is fixed and both records are reprocessed.
    await subscriptionEnding(null, new Date(Date.now() + 1000));
    const reprocessed = await oc.svc.request(REPROCESS, { i: { ids: [sessionRecord, cdrId] } });
    expect(reprocessed.errors, JSON.stringify(reprocessed.errors)).toBeUndefined();
    expect(reprocessed.data.reprocessRejected).toMatchObject({ rated: 2, stillRejected: 0 });

    // The session record: no ChargeRequest, precharged (APPLIED; the commit's figures were not kept: the rating's estimate stands).
    expect(await storedChargeRequests(oc.db, 'id = $1', [sessionRecord]), 'no second charge for the legacy session record').toEqual([]);
    const { rows: [record] } = await oc.db.query(`select status, charge_status from ${CHARGED_RECORDS} where id = $1`, [sessionRecord]);
    expect(record).toEqual({ status: 'RATED', charge_status: 'APPLIED' });
    expect((await oc.db.query(`select count(*)::int as n from pending_charge where usage_record_id = $1`, [sessionRecord])).rows[0].n).toBe(0);

    // The CDR is charged once (0.49): the ledger holds 4.90 for the session, once, plus the CDR.
    expect((await storedChargeRequests(oc.db, 'id = $1', [cdrId])).map((c) => c.amount)).toEqual(['0.49']);
    await waitFor(async () => (await unbilled()) !== '4.9', 30_000, 'wallets applying the reprocessed CDR\'s charge');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await unbilled()).toBe('5.39');
  });

  it('names a session\'s records in SQL as sessionRecordKey does (long session ids by a hash)', async () => {
    const ids = ['gy-1', 'x'.repeat(106), 'y'.repeat(107), `${'z'.repeat(70)}   tail-${'w'.repeat(60)}`, ` padded-${run}`];
    const keyOf = MARK_PRECHARGED_SESSION_REJECTIONS.match(/(case when length\(s\.id\)[\s\S]*? end) as record_key/)![1];
    for (const id of ids) {
      const { rows: [k] } = await oc.db.query(`select ${keyOf} as key from (select $1::text as id) s`, [id]);
      expect(k.key, id).toBe(sessionRecordKey(id));
    }
  });
});
