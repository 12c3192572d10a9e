// A plan's RECURRING and USAGE `discount` rules, written as the catalog accepts them (plan schema
// and validator, what a draft and publish run), through the bill run against real PostgreSQL and
// NATS onto the invoice. The catalog refused these scopes (EVENT | INVOICE only) while invoicing
// applied them, so no published plan could carry "10 % off the monthly fee".
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { validatePlan, type OfferDocument } from '@ledgerline/rating';
import { PLANS, account, charges, invoicesOf, runBillRun, startHarness, type Harness } from './support';

const catalogFile = (path: string) => JSON.parse(fs.readFileSync(new URL(`../../../catalog/${path}`, import.meta.url), 'utf8'));
const knownOffers: OfferDocument[] = [catalogFile('offers/data-boost-5gb.json'), catalogFile('offers/roam-world-pass-7d.json')];
const lines = (from: number) => ({ all: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: from }] });

let h: Harness;
const LOYAL = {
  id: 'plv_loyal_catalog_v1',
  document: {
    ...PLANS.postpaid20.document,
    code: 'LOYAL_CATALOG_20GB',
    name: 'Loyal 20 GB (catalog)',
    rules: [
      ...PLANS.postpaid20.document.rules,
      { name: 'loyalty-fee', conditions: lines(1), event: { type: 'discount', params: { percent: '10', scope: 'RECURRING', label: 'Loyalty: 10% off the monthly fee' } } },
      { name: 'loyalty-usage', conditions: lines(1), event: { type: 'discount', params: { amount: '5.00', scope: 'USAGE', label: 'Loyalty: 5.00 off usage' } } },
      // Not for a single line: invoicing reads lineCount from the account's lines in the period.
      { name: 'family-fee', conditions: lines(2), event: { type: 'discount', params: { percent: '50', scope: 'RECURRING', label: 'Family: half the fee' } } },
    ],
  },
};
const RECORD = 'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }';

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: LOYAL });
  // Europe/Berlin, billed on the 1st: September 2026, the whole month on the plan; usage 30.00.
  await account(h, 'acc_loyal_catalog');
  await h.gql(RECORD, { i: { subscriptionId: 'sub_lcat', lineId: 'lin_sub_lcat', billingAccountId: 'acc_loyal_catalog', planCode: LOYAL.document.code, planVersionId: LOYAL.id, startsAt: '2026-08-01T00:00:00Z' } });
  await charges(h, [
    { chargeId: 'chg_lcat1', billingAccountId: 'acc_loyal_catalog', lineId: 'lin_sub_lcat', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '600', unit: 'MB', amount: '30.00', currency: 'EUR', occurredAt: '2026-09-20T12:00:00Z' },
  ]);
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 1 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('a plan with RECURRING and USAGE discount rules, from the catalog to the invoice', () => {
  it('is a plan document the catalog publishes', () => {
    expect(validatePlan(LOYAL.document, { knownOffers })).toEqual({ valid: true, problems: [] });
  });

  it('takes 10 % off the plan’s fee and 5.00 off usage on the invoice; the 2-line rule does not apply', async () => {
    const [inv] = await invoicesOf(h, 'acc_loyal_catalog');
    expect(inv.lines.map((l: any) => [l.kind, l.netAmount.amount])).toEqual([
      ['RECURRING', '29.99'],
      ['USAGE', '30'],
      ['DISCOUNT', '-3'], // 10 % × 29.99 = 2.999 → 3.00
      ['DISCOUNT', '-5'],
    ]);
    expect(inv.lines.filter((l: any) => l.kind === 'DISCOUNT').map((l: any) => l.description)).toEqual(['Loyalty: 10% off the monthly fee', 'Loyalty: 5.00 off usage']);
    expect(inv.netTotal.amount).toBe('51.99');
    expect(inv.lines.reduce((n: any, l: any) => n.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount)).toBe(true);
  });
});
