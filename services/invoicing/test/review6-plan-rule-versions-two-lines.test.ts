// Review 6: two versions of one plan, each with its own RECURRING discount rule of the same name,
// held at the same time on two lines of one account: each version's rule discounts every line's
// fee of the plan, so the discounts stack.
//
// What is wrong: bill-accounts keeps a plan-rule discount per version only when the rules differ
// (code + percent + amount + target), but gives it `planCode` (the plan's code, shared by all its
// versions), and compose keeps recurring fees per plan code (`DiscountBucket.plan`). A
// grandfathered line pinned to version 1 ("loyalty-fee": 10 % off) and a line on version 2
// ("loyalty-fee": 20 % off) therefore both get 10 % and then 20 % of what is left: 28 % off each fee.
//
// How a user meets it: a customer keeps an old line on Loyal 20 GB v1 and adds a line after the
// plan was republished with a better loyalty rule; the September invoice takes 16.80 off two
// 29.99 fees instead of 3.00 + 6.00 = 9.00.
//
// What the fix should make true: a plan rule's RECURRING discount takes from the fees of the lines
// (segments) that held the version carrying it: 10 % of line A's fee and 20 % of line B's fee.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { PLANS, account, invoicesOf, runBillRun, startHarness, type Harness } from './support';

let h: Harness;
const version = (id: string, percent: string) => ({
  id,
  document: {
    ...PLANS.postpaid20.document,
    code: 'R6_LOYAL_20GB',
    name: 'Loyal 20 GB',
    rules: [...PLANS.postpaid20.document.rules, { name: 'loyalty-fee', event: { type: 'discount', params: { percent, scope: 'RECURRING', label: `Loyalty: ${percent}% off the fee` } } }],
  },
});
const V1 = version('plv_r6loyal_v1', '10');
const V2 = version('plv_r6loyal_v2', '20');
const RECORD = 'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }';
const on = (v: typeof V1, sub: string) =>
  h.gql(RECORD, { i: { subscriptionId: sub, lineId: `lin_${sub}`, billingAccountId: 'acc_r6_versions', planCode: 'R6_LOYAL_20GB', planVersionId: v.id, startsAt: '2026-08-01T00:00:00Z' } });

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  for (const v of [V1, V2]) await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: v });
  // Europe/Berlin, billed on the 1st: September, 30 days. Both lines on the plan all month.
  await account(h, 'acc_r6_versions');
  await on(V1, 'sub_r6v1'); // grandfathered on version 1 (10 % off the fee)
  await on(V2, 'sub_r6v2'); // version 2 (20 % off the fee)
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED', invoicesCreated: 1 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('two versions of a plan with the same rule name, on two lines at once', () => {
  it('each version’s RECURRING rule discounts its own line’s fee only (10 % of one, 20 % of the other)', async () => {
    const [inv] = await invoicesOf(h, 'acc_r6_versions');
    const fees = inv.lines.filter((l: any) => l.kind === 'RECURRING').map((l: any) => dec(l.netAmount.amount).toFixed(2));
    expect(fees).toEqual(['29.99', '29.99']);
    const off = inv.lines.filter((l: any) => l.kind === 'DISCOUNT').reduce((n: any, l: any) => n.minus(l.netAmount.amount), dec('0'));
    // 10 % × 29.99 = 2.999 → 3.00 and 20 % × 29.99 = 5.998 → 6.00; not 28 % of both fees (6.00 + 10.80).
    expect(off.toFixed(2)).toBe('9.00');
    expect(dec(inv.netTotal.amount).toFixed(2)).toBe('50.98');
  });
});
