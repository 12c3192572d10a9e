// A plan's INVOICE-scope `surcharge` rules ("regulatory fee 2 % of the invoice", "network access fee
// 1.50 a month"), written as the catalog accepts them (plan schema and validator), through the bill
// run against real PostgreSQL and NATS onto the invoice. They validated and published, but invoicing
// read only `discount` rules, so the operator's fee was silently missing from every bill. Now each
// is billed like a plan-rule discount: for the days its plan was held, on its own line, taxed like
// the charges it is computed on; a percent is of the charges after discounts.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { validatePlan, type OfferDocument } from '@ledgerline/rating';
import { PLANS, account, charges, invoicesOf, runBillRun, startHarness, type Harness } from './support';

const catalogFile = (path: string) => JSON.parse(fs.readFileSync(new URL(`../../../catalog/${path}`, import.meta.url), 'utf8'));
const knownOffers: OfferDocument[] = [catalogFile('offers/data-boost-5gb.json'), catalogFile('offers/roam-world-pass-7d.json')];
const lines = (from: number) => ({ all: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: from }] });

let h: Harness;
const REGULATED = {
  id: 'plv_regulated_v1',
  document: {
    ...PLANS.postpaid20.document,
    code: 'REGULATED_20GB',
    name: 'Regulated 20 GB',
    rules: [
      ...PLANS.postpaid20.document.rules,
      { name: 'regulatory-fee', conditions: lines(1), event: { type: 'surcharge', params: { percent: '2', scope: 'INVOICE', label: 'Regulatory fee 2% of the invoice' } } },
      { name: 'network-fee', conditions: lines(1), event: { type: 'surcharge', params: { amount: '1.50', scope: 'INVOICE', label: 'Network access fee' } } },
      { name: 'loyalty-fee', conditions: lines(1), event: { type: 'discount', params: { percent: '10', scope: 'RECURRING', label: 'Loyalty: 10% off the monthly fee' } } },
      // Not for a single line: invoicing reads lineCount from the account's lines in the period.
      { name: 'multi-line-fee', conditions: lines(2), event: { type: 'surcharge', params: { amount: '5.00', scope: 'INVOICE', label: 'Multi-line fee' } } },
    ],
  },
};
const RECORD = 'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }';
const onPlan = (accountId: string, sub: string, planCode: string, planVersionId: string, startsAt: string) =>
  h.gql(RECORD, { i: { subscriptionId: sub, lineId: `lin_${sub}`, billingAccountId: accountId, planCode, planVersionId, startsAt } });
const rows = (inv: any) => inv.lines.map((l: any) => [l.kind, l.description, l.netAmount.amount, l.taxAmount.amount]);
const addsUp = (inv: any) => inv.lines.reduce((n: any, l: any) => n.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: REGULATED });
  // Europe/Berlin, billed on the 1st: September 2026 is 30 days. Usage 30.00 in the month.
  await account(h, 'acc_surcharge_month');
  await onPlan('acc_surcharge_month', 'sub_sm', REGULATED.document.code, REGULATED.id, '2026-08-01T00:00:00Z');
  await charges(h, [
    { chargeId: 'chg_sm1', billingAccountId: 'acc_surcharge_month', lineId: 'lin_sub_sm', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '600', unit: 'MB', amount: '30.00', currency: 'EUR', occurredAt: '2026-09-20T12:00:00Z' },
  ]);
  // On the plan until 16 Sep local (15 days), then Postpaid 50 GB (no surcharge).
  await account(h, 'acc_surcharge_change');
  await onPlan('acc_surcharge_change', 'sub_sc', REGULATED.document.code, REGULATED.id, '2026-08-01T00:00:00Z');
  await onPlan('acc_surcharge_change', 'sub_sc', 'POSTPAID_50GB', PLANS.postpaid50.id, '2026-09-15T22:00:00Z');
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 2 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('a plan with INVOICE-scope surcharge rules, from the catalog to the invoice', () => {
  it('is a plan document the catalog publishes', () => {
    expect(validatePlan(REGULATED.document, { knownOffers })).toEqual({ valid: true, problems: [] });
  });

  it('bills the percent (of the charges after the discount) and the fixed fee on their own lines, taxed; the 2-line rule does not apply', async () => {
    const [inv] = await invoicesOf(h, 'acc_surcharge_month');
    expect(rows(inv).slice(2)).toEqual([
      ['DISCOUNT', 'Loyalty: 10% off the monthly fee', '-3', '-0.57'], // 10 % × 29.99 = 2.999 → 3.00
      ['ONE_OFF', 'Regulatory fee 2% of the invoice', '1.14', '0.22'], // 2 % × (29.99 − 2.999 + 30.00) = 1.13982
      ['ONE_OFF', 'Network access fee', '1.5', '0.28'], // 0.285 → 0.28 (half-even)
    ]);
    expect(rows(inv).slice(0, 2).map((r: any[]) => [r[0], r[2]])).toEqual([
      ['RECURRING', '29.99'],
      ['USAGE', '30'],
    ]);
    expect(inv.netTotal.amount).toBe('59.63'); // 29.99 + 30.00 − 3.00 + 1.14 + 1.50
    expect(addsUp(inv)).toBe(true);
  });

  it('a plan left on the 16th: its surcharges only for its 15 days', async () => {
    const [inv] = await invoicesOf(h, 'acc_surcharge_change');
    expect(rows(inv).map((r: any[]) => [r[0], r[2]])).toEqual([
      ['RECURRING', '15'], // 29.99 × 15/30
      ['RECURRING', '22.5'], // 45.00 × 15/30
      ['DISCOUNT', '-1.5'], // 10 % × 14.995
      ['ONE_OFF', '0.27'], // 2 % × (14.995 − 1.4995) = 0.26991, not of Postpaid 50 GB's 22.50
      ['ONE_OFF', '0.75'], // 1.50 × 15/30
    ]);
    expect(inv.lines[4].description).toBe('Network access fee, 15/30 days');
    expect(addsUp(inv)).toBe(true);
  });
});
