/**
 * Rerate adjusts what the ledger actually settled, nothing else (found in review, tenth session;
 * each case failed on the old code). Wallets' answers
 * arrive as ChargeResults on WORK_SUBJECTS.chargeApplied (the `charges` consumer), on a private
 * nats-server so nothing reaches other services' consumers.
 *
 * - PARTIAL: wallets cut a charge short (credit limit reached: 2 of 10 MB granted, 0.98 taken).
 *   A re-rate with the same catalog compares the full rated price (4.90) with what was taken and
 *   sends the 3.92 difference as a new charge with overdraft allowed - billing the units the ledger
 *   refused, past the credit limit.
 * - DENIED: a denied charge took nothing from the bundle, and live usage counts it so, but the
 *   re-rate replays it as if it had used the allowance: later records of the period are re-priced
 *   as overage, with the same catalog.
 *   Now the replay follows the ledger: a denied charge draws nothing, a PARTIAL one is priced for
 *   the units wallets granted (ChargeResult.units, kept as granted_units): the same catalog changes
 *   nothing, a correction adjusts the granted units only.
 * - The adjustment charges a re-rate sends had no record: their ChargeResult was dropped. A dearer
 *   correction wallets denied was taken as collected, and the next re-rate credited it back. Now
 *   each adjustment is kept (rerate_adjustment) and settled by its ChargeResult; a re-rate is
 *   refused while one of the month's is not settled (RERATE_ADJUSTMENTS_PENDING).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WORK_SUBJECTS, dec, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let listener: NatsConnection;
/** Every ChargeRequest usage published (records' charges and re-rate adjustments), by chargeId. */
const requested = new Map<string, ChargeRequest>();
let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);

type Plan = { rules: { name: string; event: { params: Record<string, unknown> } }[] };
// A correction that makes a prepaid SMS dearer: 0.12 instead of 0.09 (as in rerate-settled.test.ts).
const dearer = planDocument('prepaid-payg.json') as Plan;
dearer.rules.find((r) => r.name === 'sms-home')!.event.params.pricePerUnit = '0.12';
// And one that makes world roaming data cheaper: 0.39 instead of 0.49 per MB (as in rerate.test.ts).
const cheaper = planDocument('postpaid-20gb.json') as Plan;
cheaper.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  listener = await connect({ servers: nats.url });
  listener.subscribe(WORK_SUBJECTS.chargeRequested, {
    callback: (_, msg) => {
      const body = msg.json<ChargeRequest | ChargeRequest[]>();
      for (const c of Array.isArray(body) ? body : [body]) requested.set(c.chargeId, c);
    },
  });
});

beforeEach(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_payg_up: dearer, plv_fixed: cheaper }), consumers: ['charges'], deliverNew: true }), {
    env: { NATS_URL: nats.url },
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
});

afterEach(async () => {
  await svc?.close();
});

afterAll(async () => {
  await listener?.close();
  await nats?.stop();
});

/** Wallets' ChargeResult for a ChargeRequest, as apply-charges.ts writes it. */
function resultOf(c: ChargeRequest, outcome: ChargeResult['outcome'], figures: { units?: string; amountCharged: string; unitsFromAllowances?: string; reason?: string }): ChargeResult {
  return {
    chargeId: c.chargeId, outcome, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
    units: figures.units ?? c.units, unit: c.unit, unitsFromAllowances: figures.unitsFromAllowances ?? '0', amountCharged: figures.amountCharged, currency: c.currency,
    ...(c.zone ? { zone: c.zone } : {}), ...(figures.reason ? { reason: figures.reason } : {}),
  };
}

const chargeStatusOf = async (recordId: string): Promise<string> => (await svc.request(`query($id: ID!) { usageRecord(id: $id) { chargeStatus } }`, { id: recordId })).data.usageRecord.chargeStatus;

/** Publishes wallets' answers and waits until usage has settled each of these records. */
async function answer(results: ChargeResult[]): Promise<void> {
  await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(results));
  for (const r of results) await waitFor(async () => (await chargeStatusOf(r.chargeId)) !== 'PENDING', 15_000, 'usage to apply the ChargeResult');
}

/** The ChargeRequest usage published (to wallets) for a record or an adjustment. */
const chargeOf = (chargeId: string): Promise<ChargeRequest> => waitFor(async () => requested.get(chargeId), 15_000, `the ChargeRequest ${chargeId}`);

async function record(source: string, records: Record<string, unknown>[]): Promise<string[]> {
  const res = await svc.request(RECORD_USAGE, { input: { source, records } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(records.length);
  return res.data.recordUsage.results.map((r: { id: string }) => r.id);
}

describe('rerate against what the ledger settled', () => {
  it('a charge wallets cut short (PARTIAL) is not billed again in full by a re-rate with the same catalog', async () => {
    const lineId = `lin_rvp${run}`;
    const account = `acc_rvp${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007961', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const [id] = await record(`rvp-${run}`, [{ eventId: 'us', lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-03-02T10:00:00Z' }]);
    const charge = await chargeOf(id);
    // The credit limit was nearly reached: wallets granted 2 of the 10 MB (0.98) and cut the rest.
    await answer([resultOf(charge, 'PARTIAL', { units: '2', amountCharged: '0.98', reason: 'CREDIT_LIMIT_EXCEEDED' })]);

    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate.adjustments).toEqual([]);

    // A correction to 0.39 per MB adjusts the 2 MB granted (0.78 instead of 0.98), not the 8 refused.
    const cheaperNow = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(cheaperNow.errors, JSON.stringify(cheaperNow.errors)).toBeUndefined();
    const [credit] = cheaperNow.data.rerate.adjustments;
    expect([dec(credit.previousPrice).toString(), dec(credit.newPrice).toString()]).toEqual(['0.98', '0.78']);
    expect(dec((await chargeOf(credit.chargeId)).pricePerUnit).toString()).toBe('-0.2');
  });

  it('a charge wallets denied took nothing from the bundle: a re-rate with the same catalog does not re-price the later usage as overage', async () => {
    const lineId = `lin_rvd${run}`;
    const account = `acc_rvd${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007962', account, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    // The whole 10 GB bundle's worth, which wallets refused (nothing drawn, nothing charged).
    const [first] = await record(`rvd-${run}`, [{ eventId: 'a', lineId, usageType: 'DATA', quantity: '10240', occurredAt: '2026-03-02T10:00:00Z' }]);
    await answer([resultOf(await chargeOf(first), 'DENIED', { units: '0', amountCharged: '0', reason: 'WALLET_INSUFFICIENT_BALANCE' })]);
    // Live usage knows the bundle is untouched: the next 5 GB are in the bundle, and wallets agrees.
    const [second] = await record(`rvd-${run}`, [{ eventId: 'b', lineId, usageType: 'DATA', quantity: '5000', occurredAt: '2026-03-03T10:00:00Z' }]);
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-03T10:00:00Z") { allowances { allowanceId used } } } } }`);
    expect(usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data')).toMatchObject({ used: '5000' });
    await answer([resultOf(await chargeOf(second), 'APPLIED', { amountCharged: '0', unitsFromAllowances: '5000' })]);

    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });

  it('a dearer correction wallets denied is not credited back by the next re-rate', async () => {
    const lineId = `lin_rva${run}`;
    const account = `acc_rva${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007963', account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const [id] = await record(`rva-${run}`, [{ eventId: 'sms', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-05T10:00:00Z' }]);
    await answer([resultOf(await chargeOf(id), 'APPLIED', { amountCharged: '0.09' })]);

    // Corrected to 0.12: a 0.03 charge, which the empty prepaid wallet (no overdraft) refuses.
    const up = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_payg_up' } });
    expect(up.errors, JSON.stringify(up.errors)).toBeUndefined();
    const [delta] = up.data.rerate.adjustments;
    expect([delta.previousPrice, delta.newPrice]).toEqual(['0.09', '0.12']);
    const deltaCharge = await chargeOf(delta.chargeId);
    expect(deltaCharge).toMatchObject({ allowOverdraft: false });
    // Until wallets answers the adjustment, what the customer paid is not known: no re-rate.
    const early = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_payg' } });
    expect(early.errors?.[0]).toMatchObject({ message: expect.stringContaining('1 re-rate adjustments of 2026-03'), extensions: { code: 'CONFLICT', reason: 'RERATE_ADJUSTMENTS_PENDING', field: 'input.period' } });
    await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([resultOf(deltaCharge, 'DENIED', { units: '0', amountCharged: '0', reason: 'WALLET_INSUFFICIENT_BALANCE' })]));
    const db: pg.Client = await sqlOf(svc);
    try {
      const status = await waitFor(async () => {
        const { rows } = await db.query<{ status: string }>('select status from rerate_adjustment where charge_id = $1', [delta.chargeId]);
        return rows[0]?.status !== 'PENDING' && rows[0]?.status;
      }, 15_000, 'usage to settle the adjustment');
      expect(status).toBe('DENIED');
    } finally {
      await db.end();
    }
    // Live usage shows what the ledger holds: the 0.09 paid, not the 0.12 refused.
    const spend = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-05T10:00:00Z") { spend } } } }`);
    expect(dec(spend.data._entities[0].usage.spend).toString()).toBe('0.09');

    // The correction is withdrawn: back to 0.09, which is what the customer paid. Nothing to credit.
    const back = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_payg' } });
    expect(back.errors, JSON.stringify(back.errors)).toBeUndefined();
    const credits = back.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [a.previousPrice, a.newPrice]);
    expect(credits).toEqual([]);
  });
});
