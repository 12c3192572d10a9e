// Review 8, through the bill run (real PostgreSQL): an account with one line on a plan with
// "regulatory-fee" 2 % and one on a plan with "regulatory-fee" 3 % was charged 2 % and 3 % of every
// charge of the month — 5 % of both lines, a rate neither plan carries. Now each plan's percent is of
// its own charges: its line's fee, its lines' share of the account's usage (usage reaches invoicing
// summed per type × zone, without the plan it was rated under: per day, split between the lines
// held that day) and its line's one-offs. The same rule at the same percent on both plans stays one
// surcharge of every charge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANS, account, charges, invoicesOf, runBillRun, startHarness, type Harness } from './support';

const regulated = (id: string, code: string, fee: string, percent: string) => ({
  id,
  document: {
    ...PLANS.postpaid20.document,
    code,
    name: code,
    recurringFee: { amount: fee, period: 'MONTH', proration: 'DAILY' },
    rules: [
      ...PLANS.postpaid20.document.rules,
      { name: 'regulatory-fee', conditions: { all: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 1 }] }, event: { type: 'surcharge', params: { percent, scope: 'INVOICE', label: `Regulatory fee ${percent}%` } } },
    ],
  },
});
const A = regulated('plv_r8_reg2_v1', 'R8_REG2', '29.99', '2');
const B = regulated('plv_r8_reg3_v1', 'R8_REG3', '45.00', '3');
const C = regulated('plv_r8_reg2b_v1', 'R8_REG2B', '45.00', '2');

let h: Harness;
const RECORD = 'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }';
const onPlan = (accountId: string, sub: string, plan: typeof A) =>
  h.gql(RECORD, { i: { subscriptionId: sub, lineId: `lin_${sub}`, billingAccountId: accountId, planCode: plan.document.code, planVersionId: plan.id, startsAt: '2026-08-01T00:00:00Z' } });
const usage = (accountId: string, chargeId: string, lineId: string) => ({
  chargeId, billingAccountId: accountId, lineId, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '400', unit: 'MB', amount: '20.00', currency: 'EUR', occurredAt: '2026-09-20T12:00:00Z',
});
const surcharges = (inv: any) => inv.lines.filter((l: any) => l.description.startsWith('Regulatory fee')).map((l: any) => [l.description, l.netAmount.amount]);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  for (const p of [A, B, C]) await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: p });
  // Europe/Berlin, billed on the 1st: September 2026, both lines all month.
  await account(h, 'acc_r8_two_rates');
  await onPlan('acc_r8_two_rates', 'r8a', A);
  await onPlan('acc_r8_two_rates', 'r8b', B);
  await charges(h, [usage('acc_r8_two_rates', 'chg_r8_two', 'lin_r8a')]);
  await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
    i: { id: 'oo_r8_b', billingAccountId: 'acc_r8_two_rates', lineId: 'lin_r8b', code: 'SIM_SWAP', description: 'SIM swap', amount: { amount: '10.00', currency: 'EUR' }, taxCategory: 'TELECOM_STANDARD', occurredAt: '2026-09-10T10:00:00Z' },
  });
  await account(h, 'acc_r8_same_rate');
  await onPlan('acc_r8_same_rate', 'r8c', A);
  await onPlan('acc_r8_same_rate', 'r8d', C);
  await charges(h, [usage('acc_r8_same_rate', 'chg_r8_same', 'lin_r8c')]);
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 2 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('review8: percent surcharges of two plans an account holds side by side', () => {
  it('each plan\'s percent is of its own charges, not the other plan\'s', async () => {
    const [inv] = await invoicesOf(h, 'acc_r8_two_rates');
    expect(surcharges(inv)).toEqual([
      ['Regulatory fee 2%', '0.8'], // 2 % × (29.99 + 20.00 / 2) = 0.7998, was 2 % × 104.99 = 2.10
      ['Regulatory fee 3%', '1.95'], // 3 % × (45.00 + 20.00 / 2 + 10.00 SIM swap of its line), was 3.15
    ]);
  });

  it('the same rule at the same percent on both plans is one surcharge of every charge', async () => {
    const [inv] = await invoicesOf(h, 'acc_r8_same_rate');
    expect(surcharges(inv)).toEqual([['Regulatory fee 2%', '1.9']]); // 2 % × (29.99 + 45.00 + 20.00) = 1.8998
  });
});
