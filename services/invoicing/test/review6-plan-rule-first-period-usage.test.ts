// Review 6: a plan-rule USAGE discount is halved on the first invoice of a line that joined
// mid-period, although the plan was the only one the account ever had and every record was rated
// under it.
//
// What is wrong: since plan-rule discounts count only the days their plan was held (heldDuring),
// compose takes "the prorated share of the usage for the plan's days", spreading the summed usage
// evenly over the whole billing period. For an account that had no plan (no line) before the
// 16th, half of the spread lands on days nobody held any plan, outside the rule's days, so a
// "20 % off usage" rule takes 10 %. The same happens after a line is terminated mid-period. Before
// the change the rule took its full 20 %.
//
// How a user meets it: a new customer on Loyal 20 GB (20 % off usage) starting on 16 September
// uses 30.00 of data; the first invoice shows −3.00 instead of −6.00.
//
// What the fix should make true: usage (which reaches composition undated) is spread over the days
// the account held a plan at all (or attributed by the plan's share of those days), so when the
// rule's plan was the only plan on every such day the rule takes its whole percent: −6.00.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { PLANS, account, charges, invoicesOf, runBillRun, startHarness, type Harness } from './support';

let h: Harness;
const LOYAL = {
  id: 'plv_r6first_v1',
  document: {
    ...PLANS.postpaid20.document,
    code: 'R6_FIRST_20GB',
    name: 'Loyal 20 GB',
    rules: [...PLANS.postpaid20.document.rules, { name: 'loyalty-usage', event: { type: 'discount', params: { percent: '20', scope: 'USAGE', label: 'Loyalty: 20% off usage' } } }],
  },
};

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: LOYAL });
  // Europe/Berlin, billed on the 1st: September is 30 days. The account's only line joins on 16 Sep local.
  await account(h, 'acc_r6_first');
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: 'sub_r6f', lineId: 'lin_r6f', billingAccountId: 'acc_r6_first', planCode: 'R6_FIRST_20GB', planVersionId: LOYAL.id, startsAt: '2026-09-15T22:00:00Z' },
  });
  await charges(h, [
    { chargeId: 'chg_r6f1', billingAccountId: 'acc_r6_first', lineId: 'lin_r6f', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '600', unit: 'MB', amount: '30.00', currency: 'EUR', occurredAt: '2026-09-20T12:00:00Z' },
  ]);
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED', invoicesCreated: 1 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('a plan-rule USAGE discount on a line that joined mid-period', () => {
  it('takes its whole percent of usage rated while the plan was the account’s only plan', async () => {
    const [inv] = await invoicesOf(h, 'acc_r6_first');
    expect(inv.lines.filter((l: any) => l.kind === 'USAGE').map((l: any) => dec(l.netAmount.amount).toFixed(2))).toEqual(['30.00']);
    const discounts = inv.lines.filter((l: any) => l.kind === 'DISCOUNT').map((l: any) => [l.description, dec(l.netAmount.amount).toFixed(2)]);
    expect(discounts).toEqual([['Loyalty: 20% off usage', '-6.00']]); // 20 % × 30.00, not 20 % × 30.00 × 15/30 = 3.00
  });
});
