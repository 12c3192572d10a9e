/**
 * Review 16: a re-rate that moves usage between an allowance and money.
 *
 * A catalog correction makes world-roaming data draw on the 20 GB bundle (it was priced per MB).
 * The re-rate credits the money (-49) and counts the 100 MB as drawn from the bundle in live usage,
 * but the only ChargeRequests the ledger ever got for that record are the original money charge
 * (no allowance) and a money-only ADJUSTMENT (units '1' ITEM, allowanceIds []): wallets never draws
 * the 100 MB. The customer keeps the credit AND the 100 MB in the bucket, and usage's live counters
 * (used/remaining, thresholds, the next events' estimates) no longer match the ledger's bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, RERATE, correctedPlan, filePlanSource, setLine, settleCharges, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r16a${run}`;
const account = `acc_r16a${run}`;

// The correction: world-roaming data comes out of the data bundle first.
const fixed = correctedPlan('postpaid-20gb.json', 'roaming-world-data', (p) => {
  p.allowanceId = 'data';
});

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_r16_fixed: fixed }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: `+4915177${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('review16: re-rate moving usage into an allowance', () => {
  // KNOWN BUG, not fixed yet (review 16, 2026-11-28): a re-rate's adjustment is money only, so wallets never draws
  // (or gives back) the allowance units the re-rate moves; see services/usage/STATUS.md "Not done". `it.fails`
  // keeps the reproduction running: it turns red the day the bug is fixed, to be made a plain `it` then.
  it.fails('what live usage counts as drawn from the allowance is what the ledger was asked to draw', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `r16a-${run}`, records: [{ eventId: 'w', lineId, usageType: 'DATA', quantity: '100', roamingCountry: 'US', occurredAt: '2026-03-02T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    // Wallets charged 49 EUR in money, nothing from allowances (as requested).
    await settleCharges(db, [lineId]);

    const rr = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_r16_fixed' } });
    expect(rr.errors, JSON.stringify(rr.errors)).toBeUndefined();
    expect(rr.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [dec(a.previousPrice).toString(), dec(a.newPrice).toString()])).toEqual([['49', '0']]);
    const charges: ChargeRequest[] = (await storedChargeRequests(db)).filter((c) => c.lineId === lineId);
    // Wallets takes the money delta as asked.
    for (const d of charges.filter((c) => c.kind === 'ADJUSTMENT')) {
      await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [{ chargeId: d.chargeId, outcome: 'APPLIED', billingAccountId: d.billingAccountId, lineId: d.lineId, paymentMode: d.paymentMode, usageType: d.usageType, occurredAt: d.occurredAt, units: d.units, unit: d.unit, unitsFromAllowances: '0', amountCharged: d.amount ?? d.pricePerUnit, currency: d.currency }]);
    }

    // Units of the data allowance the ledger was asked to draw for this usage (original charge + adjustments).
    const askedFromData = charges.filter((c) => c.allowanceIds.includes('data')).reduce((s, c) => s.plus(c.units), dec('0'));
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-03T10:00:00Z") { spend allowances { allowanceId used remaining } } } } }`);
    expect(usage.errors).toBeUndefined();
    const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
    // Live usage says 100 MB of the bundle are used (and the 49 EUR credited), but no request ever
    // drew them from the ledger's bucket: the customer has the credit and the 100 MB still in wallets.
    expect({ liveUsedFromData: dec(data.used).toString(), askedLedgerToDraw: askedFromData.toString() }).toEqual({ liveUsedFromData: askedFromData.toString(), askedLedgerToDraw: askedFromData.toString() });
  });
});
