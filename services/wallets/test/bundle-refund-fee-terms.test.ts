// Whether an ended bundle's unused days come back follows the terms its fee was taken under, not
// the plan's terms as the catalog answers them when the bundle ends. `refundUnusedPeriod` prorated
// the fee the ledger took (`periodFeeTaken`) but read WHETHER it prorates from the terms handed to
// it at the end: a period paid under "unused days refunded" (DAILY) whose plan then said "no refund"
// (NONE) gave nothing back, and one paid under NONE whose plan then said DAILY gave back money its
// terms never promised; a catalog that no longer answered for the version gave nothing at all.
// Now the fee's transaction records the proration it was taken under (`ledger_transaction.
// fee_proration`, migration 20270123000000) and the refund follows it; a fee taken before the
// column (null) is judged on the plan's terms, as before.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number) => new Date(T0.getTime() + days * DAY);

/** A 30-day bundle at 10.00 whose unused days are refunded (DAILY) or not (NONE). */
const bundle = (proration: 'DAILY' | 'NONE'): PlanTerms => ({
  recurringFee: { amount: '10.00', period: 'DAYS30', proration },
  allowances: [{ id: 'data', unit: 'MB', quantity: '1024', validity: 'PERIOD' }],
});
const DAILY = bundle('DAILY');
const NONE = bundle('NONE');
const catalog = (terms: PlanTerms): CatalogClient => ({ planTerms: async () => terms });

const subscription = (billingAccountId: string): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
  status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
});

/** A bundle paid 10.00 at T0 under `terms`, from a balance of 50.00 (40 left). */
async function paidUnder(terms: PlanTerms) {
  const w = await openPrepaid(svc, { balance: '50.00' });
  const sub = subscription(w.billingAccountId);
  await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, terms, T0));
  expect(await balanceOf(svc, w.walletId)).toBe('40');
  return { ...w, sub };
}

/** subscribers' `subscription.changed` for the end, with the terms the catalog answers then (null: it does not know the version). */
const end = (sub: SubscriptionData, endsAt: Date, terms: PlanTerms | null) =>
  dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...sub, status: 'ENDED', endsAt: endsAt.toISOString() }, terms, endsAt));

const PERIODS = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { allowancePeriods { subscriptionId feeTaken { amount } feeProration } } } }`;
const periods = async (acc: string) => (await gql(svc, PERIODS, { r: [{ __typename: 'BillingAccount', id: acc }] }))._entities[0].allowancePeriods;

describe('an ended bundle is refunded under the terms its fee was taken under', () => {
  it('paid under DAILY, the plan now says NONE: the 20 unused days of 30 still give back 6.67', async () => {
    const { walletId, sub } = await paidUnder(DAILY);
    await end(sub, at(10), NONE);
    expect(await balanceOf(svc, walletId)).toBe('46.67');
  });

  it('paid under NONE, the plan now says DAILY: nothing comes back (the terms paid under promised no refund)', async () => {
    const { walletId, sub } = await paidUnder(NONE);
    await end(sub, at(10), DAILY);
    expect(await balanceOf(svc, walletId)).toBe('40');
  });

  it('paid under DAILY, the catalog no longer answers for the version: still 6.67 (the ledger has what it needs)', async () => {
    const { walletId, sub } = await paidUnder(DAILY);
    await end(sub, at(10), null);
    expect(await balanceOf(svc, walletId)).toBe('46.67');
  });

  it("each period keeps its own terms: renewed under NONE, the second period's unused days are not refunded although the end comes with DAILY terms", async () => {
    const { walletId, sub } = await paidUnder(DAILY);
    await runWalletJobs(dbOf(svc), at(30.001), null, catalog(NONE), undefined, { lateUsageGraceMs: 0 });
    expect(await balanceOf(svc, walletId)).toBe('30');
    await end(sub, at(40), DAILY);
    expect(await balanceOf(svc, walletId)).toBe('30');
  });

  it('a fee taken before the terms were recorded (fee_proration null) is judged on the plan terms handed in, as before', async () => {
    const forget = (acc: string) => dbOf(svc).query(`update ledger_transaction set fee_proration = null where billing_account_id = $1 and kind = 'RECURRING_FEE'`, [acc]);
    const refunded = await paidUnder(NONE);
    await forget(refunded.billingAccountId);
    await end(refunded.sub, at(10), DAILY);
    expect(await balanceOf(svc, refunded.walletId)).toBe('46.67');

    const kept = await paidUnder(DAILY);
    await forget(kept.billingAccountId);
    await end(kept.sub, at(10), NONE);
    expect(await balanceOf(svc, kept.walletId)).toBe('40');
  });

  it("allowancePeriods answers the proration the period's fee was taken under (subscribers' preview follows it): DAILY / NONE, null when no fee was taken or it predates the record", async () => {
    const daily = await paidUnder(DAILY);
    expect(await periods(daily.billingAccountId)).toEqual([{ subscriptionId: daily.sub.subscriptionId, feeTaken: { amount: '10' }, feeProration: 'DAILY' }]);
    const none = await paidUnder(NONE);
    expect(await periods(none.billingAccountId)).toEqual([{ subscriptionId: none.sub.subscriptionId, feeTaken: { amount: '10' }, feeProration: 'NONE' }]);
    await dbOf(svc).query(`update ledger_transaction set fee_proration = null where billing_account_id = $1 and kind = 'RECURRING_FEE'`, [none.billingAccountId]);
    expect(await periods(none.billingAccountId)).toEqual([{ subscriptionId: none.sub.subscriptionId, feeTaken: { amount: '10' }, feeProration: null }]);

    const broke = await openPrepaid(svc); // nothing on the balance: the fee waits
    const unpaid = subscription(broke.billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, unpaid, DAILY, T0));
    expect(await periods(broke.billingAccountId)).toEqual([{ subscriptionId: unpaid.subscriptionId, feeTaken: null, feeProration: null }]);
  });
});
