/**
 * Review 16: a catalog correction applied by a re-rate (`planVersionId` = the corrected version) is
 * undone by the next plain re-rate of the month (no planVersionId: e.g. run after late CDRs or a
 * line-count fix). The records keep the subscription's version as plan_version_id, and a plain
 * re-rate prices them by that (uncorrected) version again: the customer is charged the wrong price
 * back, with nothing in the catalog having changed since the correction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, RERATE, correctedPlan, filePlanSource, setLine, settleCharges, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r16c${run}`;
const account = `acc_r16c${run}`;
const fixed = correctedPlan('postpaid-20gb.json', 'roaming-world-data', (p) => (p.pricePerUnit = '0.3900'));

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_r16c_fixed: fixed }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: `+4915175${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('review16: a corrected re-rate, then a plain one', () => {
  it('the plain re-rate leaves the correction in place', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `r16c-${run}`, records: [{ eventId: 'w', lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-03-02T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    await settleCharges(db, [lineId]);
    const fix = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_r16c_fixed' } });
    expect(fix.errors, JSON.stringify(fix.errors)).toBeUndefined();
    expect(fix.data.rerate.adjustments).toHaveLength(1);
    for (const d of (await storedChargeRequests(db)).filter((c) => c.lineId === lineId && c.kind === 'ADJUSTMENT')) {
      await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [{ chargeId: d.chargeId, outcome: 'APPLIED', billingAccountId: d.billingAccountId, lineId: d.lineId, paymentMode: d.paymentMode, usageType: d.usageType, occurredAt: d.occurredAt, units: d.units, unit: d.unit, unitsFromAllowances: '0', amountCharged: d.amount!, currency: d.currency }]);
    }
    const plain = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(plain.errors, JSON.stringify(plain.errors)).toBeUndefined();
    expect(plain.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
    // The record keeps its subscription's version (pools and invoices go by it); its trace names the version that priced it.
    const { rows: [rec] } = await db.query(`select plan_version_id, rating, price::text as price from usage_record where line_id = $1`, [lineId]);
    const trace = JSON.parse(rec.rating);
    expect({ stored: rec.plan_version_id, pricedBy: trace.planVersionId, subscription: trace.subscriptionPlanVersionId, price: dec(rec.price).toString() }).toEqual({ stored: 'plv_postpaid', pricedBy: 'plv_r16c_fixed', subscription: 'plv_postpaid', price: '3.9' });
  });

  it('a correction naming the subscription\'s own version lifts the earlier one', async () => {
    const back = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_postpaid' } });
    expect(back.errors, JSON.stringify(back.errors)).toBeUndefined();
    expect(back.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [dec(a.previousPrice).toString(), dec(a.newPrice).toString()])).toEqual([['3.9', '4.9']]);
    const { rows: [rec] } = await db.query(`select plan_version_id, rating from usage_record where line_id = $1`, [lineId]);
    const trace = JSON.parse(rec.rating);
    expect({ stored: rec.plan_version_id, pricedBy: trace.planVersionId, subscription: trace.subscriptionPlanVersionId }).toEqual({ stored: 'plv_postpaid', pricedBy: 'plv_postpaid', subscription: undefined });
  });
});
