/**
 * A re-rate adjusts what the ledger settled. Found in review (ninth session): a re-rate run while
 * the original charges were still waiting for wallets took the rating estimate as what was
 * charged, so a charge wallets then denied left a credit for usage never paid; the original's
 * late result then overwrote the re-rated amount in live usage. A re-rate also re-sent a charge
 * wallets had denied, with overdraft allowed on a plan that forbids it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);

type Plan = { rules: { name: string; event: { params: Record<string, unknown> } }[] };
// A catalog correction: world roaming data at 0.39 instead of 0.49 per MB (as in rerate.test.ts).
const cheaper = planDocument('postpaid-20gb.json') as Plan;
cheaper.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';
// And one that makes a prepaid SMS dearer: 0.12 instead of 0.09.
const dearer = planDocument('prepaid-payg.json') as Plan;
dearer.rules.find((r) => r.name === 'sms-home')!.event.params.pricePerUnit = '0.12';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: cheaper, plv_payg_up: dearer }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const lineSpend = async (lineId: string) => {
  const res = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage { period spend events } } } }`);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data._entities[0].usage.spend as string;
};

/** What wallets answers for a stored ChargeRequest. */
const resultOf = (c: ChargeRequest, outcome: 'APPLIED' | 'DENIED', amountCharged: string) => ({
  chargeId: c.chargeId, outcome, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
  units: c.units, unit: c.unit, unitsFromAllowances: '0', amountCharged, currency: c.currency, ...(outcome === 'DENIED' ? { reason: 'WALLET_INSUFFICIENT_BALANCE' } : {}),
});

const adjustmentsOf = async (lineId: string, original: string[]) => (await storedChargeRequests(db, 'payload like $1', [`%${lineId}%`])).filter((c) => !original.includes(c.chargeId));

describe('rerate against what the ledger settled', () => {
  it('waits for wallets: refused while a charge of the period is unanswered, then adjusts what was charged', async () => {
    const lineId = `lin_rp${run}`;
    const account = `acc_rp${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007711', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `rp-${run}`,
        records: [
          { eventId: 'a', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'b', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-03T10:00:00Z', roamingCountry: 'US' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(2);
    const originals = await storedChargeRequests(db, 'payload like $1', [`%${lineId}%`]);
    expect(originals).toHaveLength(2);

    const early = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(early.errors?.[0]).toMatchObject({ message: expect.stringContaining('2 usage records of 2026-03'), extensions: { code: 'CONFLICT', reason: 'RERATE_CHARGES_PENDING', field: 'input.period' } });
    expect(await adjustmentsOf(lineId, originals.map((c) => c.chargeId))).toEqual([]);

    // Wallets answers: 4.90 taken for each. Now the correction credits 1.00 each, and live usage
    // shows what the ledger holds (7.80) for good.
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, originals.map((c) => resultOf(c, 'APPLIED', '4.9')));
    const fixed = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    expect(fixed.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [a.previousPrice, a.newPrice])).toEqual([['4.9', '3.9'], ['4.9', '3.9']]);
    const deltas = await adjustmentsOf(lineId, originals.map((c) => c.chargeId));
    expect(deltas.map((d) => dec(d.pricePerUnit).toString())).toEqual(['-1', '-1']);
    expect(dec(await lineSpend(lineId)).toString()).toBe('7.8');
    // A late redelivery of the original results changes nothing: the charges are settled.
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, originals.map((c) => resultOf(c, 'APPLIED', '4.9')));
    expect(dec(await lineSpend(lineId)).toString()).toBe('7.8');
  });

  it('a charge wallets denied has nothing to adjust: with the same catalog or a corrected one', async () => {
    const lineId = `lin_rd${run}`;
    const account = `acc_rd${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007712', account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `rd-${run}`, records: [{ eventId: 'sms', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-05T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    const [original] = await storedChargeRequests(db, 'payload like $1', [`%${lineId}%`]);
    expect(original.allowOverdraft).toBe(false); // prepaid, no overdraft on this plan
    // The prepaid wallet was empty: wallets denied the charge.
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [resultOf(original, 'DENIED', '0')]);

    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
    const dearerToo = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_payg_up' } });
    expect(dearerToo.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await adjustmentsOf(lineId, [original.chargeId])).toEqual([]);
  });

  it("a dearer correction is collected as the plan collects: no overdraft on a prepaid plan without one", async () => {
    const lineId = `lin_ru${run}`;
    const account = `acc_ru${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100007714', account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `ru-${run}`, records: [{ eventId: 'sms', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-05T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    const [original] = await storedChargeRequests(db, 'payload like $1', [`%${lineId}%`]);
    expect(await settleCharges(db, [lineId])).toBe(1);

    const up = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_payg_up' } });
    expect(up.errors, JSON.stringify(up.errors)).toBeUndefined();
    expect(up.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [a.previousPrice, a.newPrice])).toEqual([['0.09', '0.12']]);
    const [delta] = await adjustmentsOf(lineId, [original.chargeId]);
    expect(delta).toMatchObject({ paymentMode: 'PREPAID', allowOverdraft: false });
    expect(dec(delta!.pricePerUnit).toString()).toBe('0.03');
  });
});
