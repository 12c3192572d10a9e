// Units an online session holds when its bundle renews roll over like the rest of the period.
//
// A reservation moves the units it holds from the bucket to RESERVED, and the renewal's rollover
// carries `percent` of what the ending bucket has left (its ledger balance), so held units are not
// in it. When the session ends after the renewal, what it did not use goes back to the ended
// bucket (forfeited by the expiry job at the end of its late-usage grace; with the grace 0 here it
// is already EXPIRED and the units go to ALLOWANCE_EXPIRED): their rollover share, by the rule that
// carried the rest (stored on the rollover bucket), goes on to the new period's rollover bucket,
// within the rule's maximum.
//
// Plan as renewals.test.ts's BUNDLE: 10,240 MB a period, 50 % of what is left rolls over (at most
// 5,120 MB). The session holds 4,000 MB across the renewal and uses 1,000 of them: 9,240 MB of the
// period were not used, so 4,620 MB roll over (3,120 at the renewal, 1,500 when the session ends),
// as they do when the session ends just before the renewal.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { T0, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';
import type { SubscriptionData } from '@ledgerline/contracts';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const BUNDLE: PlanTerms = {
  recurringFee: { amount: '15.00', period: 'DAYS30' },
  allowances: [{ id: 'data', name: '10 GB', unit: 'MB', quantity: '10240', validity: 'PERIOD', rollover: { percent: '50', maxQuantity: '5120' } }],
};
/** The same with a rollover of at most 3,000 MB. */
const CAPPED: PlanTerms = { ...BUNDLE, allowances: [{ ...BUNDLE.allowances[0]!, rollover: { percent: '50', maxQuantity: '3000' } }] };
const CATALOG: CatalogClient = { planTerms: async (id) => (id === 'pv_bundle' ? BUNDLE : id === 'pv_capped' ? CAPPED : null) };
const runJobs = (now: Date) => runWalletJobs(dbOf(svc), now, null, CATALOG, undefined, { lateUsageGraceMs: 0 });

async function dataBuckets(acc: string) {
  return (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { allowanceId initialQuantity remaining priority validFrom status } }`, { a: acc })).buckets as { allowanceId: string; initialQuantity: string; remaining: string; priority: number; validFrom: string; status: string }[];
}

describe('rollover and an online session open across the renewal', () => {
  it('what a session held over the renewal and did not use rolls over like the rest of the period', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '35.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));

    // A minute before the period ends, the network holds 4,000 MB for a session (valid 10 minutes).
    clock.set(at(30, -1));
    const held = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode grantedUnit { units unitsFromAllowances } reservation { id } } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: sub.lineId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '4000', pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600 },
    });
    expect(held.reserveBalance).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '4000', unitsFromAllowances: '4000' } });

    // The bundle renews while the session runs; then the session ends having used 1,000 MB.
    await runJobs(at(30, 1));
    clock.set(at(30, 2));
    const committed = await gql(svc, `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode amountCharged } }`, { i: { reservationId: held.reserveBalance.reservation.id, usedUnits: '1000' } });
    expect(committed.commitReservation.resultCode).toBe('SUCCESS');
    // The ended bucket's grace passes (0 here): what did not roll over is forfeited.
    await runJobs(at(30, 3));

    const buckets = (await dataBuckets(acc)).filter((b) => b.allowanceId === 'data' && b.validFrom === at(30).toISOString());
    const rollover = buckets.find((b) => b.priority === 50);
    const seen = { rolloverRemaining: rollover?.remaining ?? null, buckets };
    expect(seen.rolloverRemaining, JSON.stringify(seen)).toBe('4620');
  });

  it('within the rollover rule\'s maximum: what the renewal carried already counts', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '35.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000001', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'CAPPED', planVersionId: 'pv_capped',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, CAPPED, T0));
    clock.set(at(30, -1));
    const held = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: sub.lineId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '8000', pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600 },
    });
    expect(held.reserveBalance.resultCode).toBe('SUCCESS');
    // 2,240 MB left at the renewal: 1,120 carried; the 8,000 given back would add 4,000, but only 1,880 fit under 3,000.
    await runJobs(at(30, 1));
    clock.set(at(30, 2));
    await gql(svc, `mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { resultCode } }`, { i: { reservationId: held.reserveBalance.reservation.id } });
    await runJobs(at(30, 3));
    const buckets = (await dataBuckets(acc)).filter((b) => b.allowanceId === 'data' && b.validFrom === at(30).toISOString());
    const rollover = buckets.find((b) => b.priority === 50);
    expect({ initialQuantity: rollover?.initialQuantity, remaining: rollover?.remaining }, JSON.stringify(buckets)).toEqual({ initialQuantity: '3000', remaining: '3000' });
  });
});
