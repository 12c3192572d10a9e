// The unused days of a prepaid bundle's period come back from the fee the ledger took for that
// period, not from the plan's fee as the catalog has it now. `refundUnusedPeriod` used to prorate
// the catalog's current fee: a period paid 10.00 whose plan then cost 15.00 gave back 20/30 of
// 15.00 = 10.00 (all of it, for 10 days used: money made up), and at 5.00 gave 3.33 (money kept).
// Now the refund is the unused share of the period's fee transaction (`RENEWAL:<subscription>:
// <period start>`), never more than it took, once however often the end comes.
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

/** A 30-day bundle at `fee`, prorated daily when it is cut short. */
const bundle = (fee: string): PlanTerms => ({
  recurringFee: { amount: fee, period: 'DAYS30', proration: 'DAILY' },
  allowances: [{ id: 'data', unit: 'MB', quantity: '1024', validity: 'PERIOD' }],
});
const catalog = (terms: PlanTerms): CatalogClient => ({ planTerms: async () => terms });

const subscription = (billingAccountId: string): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
  status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
});

/** A bundle paid 10.00 at T0 from a balance of 50.00 (40 left). */
async function paidTen() {
  const w = await openPrepaid(svc, { balance: '50.00' });
  const sub = subscription(w.billingAccountId);
  await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, bundle('10.00'), T0));
  expect(await balanceOf(svc, w.walletId)).toBe('40');
  return { ...w, sub };
}

const end = (sub: SubscriptionData, endsAt: Date, terms: PlanTerms, now = endsAt) =>
  dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...sub, status: 'ENDED', endsAt: endsAt.toISOString() }, terms, now));

const refunds = async (acc: string) =>
  (await dbOf(svc).query<{ amount: string }>(
    `select e.amount::text from ledger_entry e join ledger_transaction t on t.id = e.transaction_id
      where t.kind = 'RECURRING_FEE_REFUND' and t.billing_account_id = $1 and e.account_id = $2`,
    [acc, `${acc}:REVENUE:EUR`],
  )).map((r) => r.amount);

describe("an ended bundle's unused days come back from the fee the ledger took for the period", () => {
  it('the catalog fee rose to 15.00 after the customer paid 10.00: 20 unused days of 30 give back 6.67, not 10.00; a redelivered end (even with other terms) gives nothing more', async () => {
    const { billingAccountId: acc, walletId, sub } = await paidTen();
    for (let i = 0; i < 3; i++) await end(sub, at(10), bundle('15.00'));
    await end(sub, at(10), bundle('5.00'));
    expect(await balanceOf(svc, walletId)).toBe('46.67'); // 40 + 20/30 × 10.00 = 6.666… → 6.67 (half-even, cents)
    expect(await refunds(acc)).toEqual(['-6.670000']);
    const notes = await dbOf(svc).query<{ message: string }>(`select message from notification where billing_account_id = $1 and kind = 'BUNDLE_REFUND'`, [acc]);
    expect(notes.map((n) => n.message)).toEqual(['Your bundle ended 20 day(s) early: 6.67 EUR is back on your balance.']);
  });

  it('the catalog fee fell to 5.00 (a promotion) or to nothing: still 6.67 of the 10.00 paid, not 3.33 or 0', async () => {
    const cheaper = await paidTen();
    await end(cheaper.sub, at(10), bundle('5.00'));
    expect(await balanceOf(svc, cheaper.walletId)).toBe('46.67');

    const free = await paidTen();
    await end(free.sub, at(10), bundle('0'));
    expect(await balanceOf(svc, free.walletId)).toBe('46.67');
  });

  it('never more than the period took: ended before it was used at all, a period paid 10.00 gives back 10.00 whatever the catalog asks now', async () => {
    const { billingAccountId: acc, walletId, sub } = await paidTen();
    await end(sub, T0, bundle('15.00'), at(0.5)); // ended back to its start: all 30 days unused
    expect(await balanceOf(svc, walletId)).toBe('50');
    expect(await refunds(acc)).toEqual(['-10.000000']);
  });

  it("allowancePeriods answers the fee the period took (subscribers' plan-change preview prorates it): 10 for the period paid 10.00, null for one not paid", async () => {
    const PERIODS = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { allowancePeriods { subscriptionId feeDue feeTaken { amount currency } } } } }`;
    const periods = async (acc: string) => (await gql(svc, PERIODS, { r: [{ __typename: 'BillingAccount', id: acc }] }))._entities[0].allowancePeriods;
    const { billingAccountId: acc, sub } = await paidTen();
    expect(await periods(acc)).toEqual([{ subscriptionId: sub.subscriptionId, feeDue: false, feeTaken: { amount: '10', currency: 'EUR' } }]);

    const broke = await openPrepaid(svc); // nothing on the balance: the fee waits
    const unpaid = subscription(broke.billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, unpaid, bundle('10.00'), T0));
    expect(await periods(broke.billingAccountId)).toEqual([{ subscriptionId: unpaid.subscriptionId, feeDue: true, feeTaken: null }]);
  });

  it("a period renewed at the new price refunds from that period's own fee (15.00), not the first period's", async () => {
    const { walletId, sub } = await paidTen();
    // The catalog now asks 15.00: the renewal at day 30 takes 15.00 (40 → 25).
    await runWalletJobs(dbOf(svc), at(30.001), null, catalog(bundle('15.00')), undefined, { lateUsageGraceMs: 0 });
    expect(await balanceOf(svc, walletId)).toBe('25');
    // Then a promotion (5.00); the bundle ends on day 40: 20 of the second period's 30 days unused → 20/30 × 15.00 = 10.00.
    await end(sub, at(40), bundle('5.00'));
    expect(await balanceOf(svc, walletId)).toBe('35');
  });
});
