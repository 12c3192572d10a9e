// A prepaid bundle's recurring fee on a committed-spend budget wallet. Usage charges and one-off
// charges there may draw on the budget's next replenishment (gaps 8, review 9: a budget wallet is
// funded by its replenishments, not by top-ups), but the bundle's fee was judged on the balance and
// overdraft alone (payPeriodFee: covers(balance, overdraft, fee)): a fee above the balance left the
// bundle DUE, the customer was told to top up, no allowance was granted, and until usage, charged as
// money at the overage price, took the wallet below its threshold, the bundle was never paid.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;
/** A bundle of 50.00 every 30 days: more than the 30.00 the budget wallet holds, within its next replenishment of 100.00. */
const BUNDLE: PlanTerms = { recurringFee: { amount: '50.00', period: 'DAYS30' }, allowances: [{ id: 'data', unit: 'MB', quantity: '1000', validity: 'PERIOD' }] };
const CATALOG: CatalogClient = { planTerms: async (id) => (id === 'pv_budget_bundle' ? BUNDLE : null) };
const subscription = (billingAccountId: string): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_budget_bundle',
  status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
});
const feeTaken = async (subscriptionId: string, start: Date) => (await dbOf(svc).query(`select id from ledger_transaction where idempotency_key = $1`, [`RENEWAL:${subscriptionId}:${start.toISOString()}`])).length;
const term = async (subscriptionId: string) => (await dbOf(svc).query(`select fee_state, renewals from subscription_term where subscription_id = $1`, [subscriptionId]))[0];
const dataBuckets = async (acc: string) => dbOf(svc).query<{ valid_from: Date }>(`select valid_from from bucket where billing_account_id = $1 and allowance_id = 'data' order by valid_from`, [acc]);

/** A budget wallet (committed 100, threshold 20) that usage took down to 30.00. */
async function budgetWalletAt30(): Promise<{ billingAccountId: string; walletId: string }> {
  const w = await openPrepaid(svc);
  await gql(svc, SET_BUDGET, { i: { billingAccountId: w.billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } });
  await gql(svc, APPLY, { i: charge(w.billingAccountId, { units: '70', pricePerUnit: '1.00' }) });
  expect(await balanceOf(svc, w.walletId)).toBe('30');
  return w;
}

describe("a bundle's recurring fee on a committed-spend budget wallet", () => {
  it('the first period is paid from the balance and the next replenishment: granted at once, not left due', async () => {
    const { billingAccountId, walletId } = await budgetWalletAt30();
    const sub = subscription(billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    expect(await feeTaken(sub.subscriptionId, T0)).toBe(1);
    expect(await term(sub.subscriptionId)).toMatchObject({ fee_state: null });
    expect((await dataBuckets(billingAccountId)).map((b) => b.valid_from)).toEqual([T0]);
    // 30 − 50 = −20, replenished in the same transaction: +100.
    expect(await balanceOf(svc, walletId)).toBe('80');
    const due = await dbOf(svc).query(`select id from notification where billing_account_id = $1 and kind = 'BUNDLE_FEE_DUE'`, [billingAccountId]);
    expect(due).toEqual([]);
  });

  it('a renewal is paid the same way when the period ends', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // 100
    const sub = subscription(billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0)); // 50
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '20', pricePerUnit: '1.00' }) }); // 30
    expect(await balanceOf(svc, walletId)).toBe('30');
    await runWalletJobs(dbOf(svc), at(30, 1), null, CATALOG, undefined, { lateUsageGraceMs: 0 });
    expect(await feeTaken(sub.subscriptionId, at(30))).toBe(1);
    expect(await term(sub.subscriptionId)).toMatchObject({ fee_state: null, renewals: 1 });
    expect((await dataBuckets(billingAccountId)).map((b) => b.valid_from)).toEqual([T0, at(30)]);
    expect(await balanceOf(svc, walletId)).toBe('80');
  });
});
