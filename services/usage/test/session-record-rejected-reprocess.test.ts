/**
 * A charging session's record that is stored REJECTED, then reprocessed (review, 2026-11-28).
 *
 * What a session's commit charged becomes a usage record (`recordCommitted` in charging-session.ts,
 * `pipeline.process(…, { precharged: true })`): its money was taken by wallets through the session's
 * reservation, so the record carries no ChargeRequest. Rated at the time of the session's previous
 * report, such a record can still be REJECTED after wallets committed (here: the subscription was
 * ended, by mistake, before the session began; the same for a line unknown or pending at that time, a
 * plan version the catalog does not publish yet, …). The REJECTED row did not keep the fact that it
 * was paid for: once the cause was fixed, `reprocessRejected` (or `reprocessWaiting`, by itself after
 * the subscribers event) rated it as ordinary usage and sent a ChargeRequest under the record's id, so
 * wallets charged the customer a second time for the same megabytes.
 *
 * Now the REJECTED row keeps what the commit charged (charge_status APPLIED, amount_charged,
 * units_from_allowances) and a reprocess rates it as the session's record: no ChargeRequest, the
 * commit's money on the record. An ordinary record rejected for the same cause is charged as before.
 *
 * Against the real wallets service (child process, own schema) on a private nats-server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { CHARGED_RECORDS, RECORD_USAGE, UPSERT_LINE_CONTEXT, setLine, storedChargeRequests, waitFor } from './support';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_srr${run}`;
const account = `acc_srr${run}`;
const msisdn = '+4915100007471';
let walletId: string;

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { id eventId status rejectionCode } } }`;

/** The line's subscription as subscribers sends it, ending at `endsAt` (null: open-ended), applied at `at`. */
async function subscriptionEnding(endsAt: string | null, at: Date): Promise<void> {
  const res = await oc.svc.request(UPSERT_LINE_CONTEXT, {
    input: {
      lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: at.toISOString(),
      subscription: { subscriptionId: `sub_${lineId}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_postpaid', planVersionId: 'plv_postpaid', startsAt: '2026-01-01T00:00:00Z', endsAt },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

/** What the account owes in wallets, unbilled (decimal string, normalised). */
const unbilled = async () => dec(await oc.wallets.unbilledOf(walletId)).toFixed();

beforeAll(async () => {
  walletId = await oc.wallets.postpaidWallet(account, lineId);
  await setLine(oc.svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

describe('a session record stored REJECTED after wallets committed it, then reprocessed', () => {
  it('is rated with the commit\'s money and charged no second time; an ordinary record rejected alike is charged as before', async () => {
    const sessionId = `gy-srr-${run}`;
    // World roaming data: 0.49 EUR per MB, in money (no allowance).
    expect(await oc.ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', roamingCountry: 'US', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });

    // Mid-session, subscribers' event ends the subscription an hour ago (a wrong date, corrected below).
    await subscriptionEnding(new Date(Date.now() - 3_600_000).toISOString(), new Date());
    const done = await oc.ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' });
    expect(done).toMatchObject({ resultCode: 'SUCCESS' });
    const recordId = done.usageRecordId!;
    // Wallets committed the 10 MB through the reservation: 4.90 EUR. The session's record of it is REJECTED.
    expect(await unbilled()).toBe('4.9');
    const { rows: [rejected] } = await oc.db.query(`select status, rejection_code, charge_status, amount_charged::text as amount, charge from usage_record where id = $1`, [recordId]);
    // It keeps what the commit charged (what its reprocess needs to know).
    expect({ ...rejected, amount: rejected.amount && dec(rejected.amount).toFixed() }).toEqual({ status: 'REJECTED', rejection_code: 'SUBSCRIPTION_NOT_FOUND', charge_status: 'APPLIED', amount: '4.9', charge: null });
    // An ordinary CDR of the same line in that window is rejected for the same cause (and owes its money).
    const cdr = await oc.svc.request(RECORD_USAGE, { input: { source: `srr-${run}`, records: [{ eventId: 'cdr-1', lineId, usageType: 'DATA', roamingCountry: 'US', quantity: '1', occurredAt: new Date(Date.now() - 30_000).toISOString() }] } });
    expect(cdr.data.recordUsage.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'SUBSCRIPTION_NOT_FOUND' });
    const cdrId = cdr.data.recordUsage.results[0].id as string;

    // The cause is fixed (the subscription does not end), and the rejected records are reprocessed.
    await subscriptionEnding(null, new Date(Date.now() + 1000));
    const reprocessed = await oc.svc.request(REPROCESS, { i: { lineId } });
    expect(reprocessed.errors, JSON.stringify(reprocessed.errors)).toBeUndefined();
    expect(reprocessed.data.reprocessRejected).toMatchObject({ rated: 2, stillRejected: 0 });

    // The session's record: no ChargeRequest (it was paid through the reservation), the commit's money on it.
    expect(await storedChargeRequests(oc.db, 'id = $1', [recordId]), 'no second charge for the session record').toEqual([]);
    const { rows: [record] } = await oc.db.query(`select status, charge_status, amount_charged::text as amount, units_from_allowances::text as units from ${CHARGED_RECORDS} where id = $1`, [recordId]);
    expect({ ...record, amount: dec(record.amount ?? 'NaN').toFixed(), units: dec(record.units ?? 'NaN').toFixed() }).toEqual({ status: 'RATED', charge_status: 'APPLIED', amount: '4.9', units: '0' });
    expect((await oc.db.query(`select count(*)::int as n from pending_charge where usage_record_id = $1`, [recordId])).rows[0].n).toBe(0);

    // The ordinary record is charged as before: one ChargeRequest, 0.49 EUR in wallets.
    expect((await storedChargeRequests(oc.db, 'id = $1', [cdrId])).map((c) => c.amount)).toEqual(['0.49']);
    await waitFor(async () => (await unbilled()) !== '4.9', 30_000, 'wallets applying the reprocessed CDR\'s charge');
    await new Promise((r) => setTimeout(r, 1500));
    // 4.90 through the session, 0.49 for the CDR: the session's 10 MB not charged again (it was 10.29 before the fix).
    expect(await unbilled()).toBe('5.39');
  });
});
