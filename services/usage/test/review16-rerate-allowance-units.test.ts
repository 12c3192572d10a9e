/**
 * Review 16: a re-rate that moves usage between an allowance and money.
 *
 * A catalog correction makes world-roaming data draw on the 20 GB bundle (it was priced per MB).
 * The re-rate credits the money (-49) and counts the 100 MB as drawn from the bundle in live usage,
 * but the only ChargeRequests the ledger ever got for that record were the original money charge
 * (no allowance) and a money-only ADJUSTMENT (units '1' ITEM, allowanceIds []): wallets never drew
 * the 100 MB. The customer kept the credit AND the 100 MB in the bucket, and usage's live counters
 * (used/remaining, thresholds, the next events' estimates) no longer matched the ledger's bucket.
 * Fixed (ADR 0019): the adjustment moves the units too (`allowanceMoves`), and usage counts what
 * the ledger says it moved. Both directions and a short bucket against the real wallets service:
 * rerate-allowance-moves.test.ts.
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
  it('what live usage counts as drawn from the allowance is what the ledger was asked to draw', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `r16a-${run}`, records: [{ eventId: 'w', lineId, usageType: 'DATA', quantity: '100', roamingCountry: 'US', occurredAt: '2026-03-02T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    // Wallets charged 49 EUR in money, nothing from allowances (as requested).
    await settleCharges(db, [lineId]);

    const rr = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_r16_fixed' } });
    expect(rr.errors, JSON.stringify(rr.errors)).toBeUndefined();
    expect(rr.data.rerate.adjustments.map((a: { previousPrice: string; newPrice: string }) => [dec(a.previousPrice).toString(), dec(a.newPrice).toString()])).toEqual([['49', '0']]);
    const charges: ChargeRequest[] = (await storedChargeRequests(db)).filter((c) => c.lineId === lineId);
    // Wallets takes the adjustment as asked: the money delta, and the units it moves (the bucket holds them).
    const movedOf = (c: ChargeRequest) => (c.allowanceMoves ?? []).reduce((s, m) => s.plus(m.units), dec('0'));
    for (const d of charges.filter((c) => c.kind === 'ADJUSTMENT')) {
      await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [{ chargeId: d.chargeId, outcome: 'APPLIED', billingAccountId: d.billingAccountId, lineId: d.lineId, paymentMode: d.paymentMode, usageType: d.usageType, occurredAt: d.occurredAt, units: d.units, unit: d.unit, unitsFromAllowances: movedOf(d).toFixed(), amountCharged: d.amount ?? d.pricePerUnit, currency: d.currency }]);
    }

    // Units of the data allowance the ledger was asked to draw for this usage (original charge + adjustments' moves).
    const askedFromData = charges.reduce((s, c) => s
      .plus(c.allowanceIds.includes('data') ? c.units : '0')
      .plus((c.allowanceMoves ?? []).filter((m) => m.allowanceId === 'data').reduce((t, m) => t.plus(m.units), dec('0'))), dec('0'));
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-03T10:00:00Z") { spend allowances { allowanceId used remaining } } } } }`);
    expect(usage.errors).toBeUndefined();
    const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
    // Live usage says 100 MB of the bundle are used (and the 49 EUR credited); before the fix no request
    // ever drew them from the ledger's bucket: the customer had the credit and the 100 MB still in wallets.
    expect(askedFromData.toString()).toBe('100');
    expect({ liveUsedFromData: dec(data.used).toString(), askedLedgerToDraw: askedFromData.toString() }).toEqual({ liveUsedFromData: askedFromData.toString(), askedLedgerToDraw: askedFromData.toString() });
  });
});
