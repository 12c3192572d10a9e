// Through the bill run against real PostgreSQL and NATS: a plan's discount rules (type `discount`,
// scope RECURRING/USAGE/INVOICE) applied to the whole period even when the plan was held for only
// part of it, or for none of its billed days: 10 % off the fee of plan A also took 10 % of plan B's
// fee after a change, and of another line's plan. Now a plan rule counts only the days its plan was
// held (its segments, by the day rule of src/domain/compose.ts); on RECURRING only that plan's fees;
// on USAGE the prorated share of the usage for those days (usage is summed per type × zone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { PLANS, account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const LOYAL = {
  id: 'plv_loyal20_v1',
  document: {
    ...PLANS.postpaid20.document,
    code: 'LOYAL_20GB',
    name: 'Loyal 20 GB',
    rules: [
      ...PLANS.postpaid20.document.rules,
      { name: 'loyalty-fee', event: { type: 'discount', params: { percent: '10', scope: 'RECURRING', label: 'Loyalty: 10% off the fee' } } },
      { name: 'loyalty-usage', event: { type: 'discount', params: { percent: '20', scope: 'USAGE', label: 'Loyalty: 20% off usage' } } },
    ],
  },
};
const RECORD = 'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }';
const onLoyal = (accountId: string, sub: string, startsAt: string) =>
  h.gql(RECORD, { i: { subscriptionId: sub, lineId: `lin_${sub}`, billingAccountId: accountId, planCode: 'LOYAL_20GB', planVersionId: LOYAL.id, startsAt } });
const toPostpaid50 = (accountId: string, sub: string, startsAt: string) =>
  h.gql(RECORD, { i: { subscriptionId: sub, lineId: `lin_${sub}`, billingAccountId: accountId, planCode: 'POSTPAID_50GB', planVersionId: PLANS.postpaid50.id, startsAt } });
const lines = (inv: any) => inv.lines.map((l: any) => [l.kind, l.netAmount.amount]);
const addsUp = (inv: any) => inv.lines.reduce((n: any, l: any) => n.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: LOYAL });
  // Accounts in Europe/Berlin billed on the 1st: September is 31 Aug 22:00Z – 30 Sep 22:00Z, 30 days.
  // Loyal 20 GB (29.99, 10 % off the fee, 20 % off usage) until 16 Sep local, then Postpaid 50 GB (45.00); usage 30.00.
  await account(h, 'acc_loyal_change');
  await onLoyal('acc_loyal_change', 'sub_lc', '2026-08-01T00:00:00Z');
  await toPostpaid50('acc_loyal_change', 'sub_lc', '2026-09-15T22:00:00Z');
  await charges(h, [
    { chargeId: 'chg_lc1', billingAccountId: 'acc_loyal_change', lineId: 'lin_sub_lc', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '600', unit: 'MB', amount: '30.00', currency: 'EUR', occurredAt: '2026-09-20T12:00:00Z' },
  ]);
  // Loyal 20 GB left at 10:00 local on 1 Sep: by the day rule the period's first day is the new plan's.
  await account(h, 'acc_loyal_left');
  await onLoyal('acc_loyal_left', 'sub_ll', '2026-08-01T00:00:00Z');
  await toPostpaid50('acc_loyal_left', 'sub_ll', '2026-09-01T08:00:00Z');
  // Two lines all month: one on Loyal 20 GB, one on Postpaid 50 GB.
  await account(h, 'acc_loyal_two_lines');
  await onLoyal('acc_loyal_two_lines', 'sub_l2a', '2026-08-01T00:00:00Z');
  await subscribe(h, 'acc_loyal_two_lines', 'sub_l2b', 'postpaid50', '2026-08-01T00:00:00Z');
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 3 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('bill run: plan-rule discounts for the days their plan was held', () => {
  it('a change on the 16th: the old plan’s rules discount its own 15 days only', async () => {
    const [inv] = await invoicesOf(h, 'acc_loyal_change');
    expect(lines(inv)).toEqual([
      ['RECURRING', '15'], // 29.99 × 15/30
      ['RECURRING', '22.5'], // 45.00 × 15/30
      ['USAGE', '30'],
      ['DISCOUNT', '-1.5'], // 10 % × 14.995 = 1.4995 → 1.50, not 10 % × 37.495 = 3.75
      ['DISCOUNT', '-3'], // 20 % × 30.00 × 15/30, not 20 % × 30.00 = 6.00
    ]);
    expect(inv.lines.filter((l: any) => l.kind === 'DISCOUNT').map((l: any) => l.description)).toEqual(['Loyalty: 10% off the fee', 'Loyalty: 20% off usage']);
    expect(inv.netTotal.amount).toBe('63');
    expect(addsUp(inv)).toBe(true);
  });

  it('a plan held for none of the billed days gives no discount', async () => {
    const [inv] = await invoicesOf(h, 'acc_loyal_left');
    expect(lines(inv)).toEqual([['RECURRING', '45']]); // not 45.00 − 10 % = 40.50
    expect(addsUp(inv)).toBe(true);
  });

  it('a plan’s RECURRING rule does not discount another line’s plan', async () => {
    const [inv] = await invoicesOf(h, 'acc_loyal_two_lines');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99'],
      ['RECURRING', '45'],
      ['DISCOUNT', '-3'], // 10 % × 29.99 = 2.999 → 3.00, not 10 % × 74.99 = 7.50
    ]);
    expect(addsUp(inv)).toBe(true);
  });
});
