/**
 * Units wallets rolls over where no bundle.renewed says so are announced: bucket.rolledover.
 *
 * Usage sizes an allowance's period from the plan plus what bundle.renewed's `rollover` said. Two
 * rollovers reached no event: a shared pool renewed on its own cadence (renewDueSharedPools: the
 * member that opened it has left, nobody's renewal is due) and a rollover bucket made or grown by a
 * session's close after the renewal (closeMany). Usage then showed less remaining than the ledger
 * held and warned early.
 *
 * Expected: one bucket.rolledover per rollover bucket and quantity, published through the outbox
 * (seen on NATS once, however many job passes run), with the bucket's whole quantity so far.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, parseBucketRolledOver, type BucketRolledOverData, type SubscriptionData } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import { closeMany } from '../src/application/reservations';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
let clock: ManualClock;
const seen: { id: string; data: BucketRolledOverData }[] = [];
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
  // What the outbox relay published (core NATS sees every JetStream publish on the subject).
  svc.runtime.messaging.nc.subscribe(EVENTS.bucketRolledOver.subject, { callback: (_e, m) => { const e = m.json<{ id: string; data: unknown }>(); seen.push({ id: e.id, data: parseBucketRolledOver(e.data)! }); } });
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runJobs = (now: Date, catalog: CatalogClient) => runWalletJobs(dbOf(svc), now, null, catalog, undefined, { lateUsageGraceMs: 0 });
const DATA = { id: 'data', name: '10 GB', unit: 'MB', quantity: '10240', validity: 'PERIOD' as const, rollover: { percent: '50', maxQuantity: '5120' } };
const FAMILY: PlanTerms = { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [{ id: 'data', unit: 'MB', quantity: '20000', validity: 'PERIOD', shared: true, rollover: { percent: '50', maxQuantity: '5000' } }] };
const PLANS: Record<string, PlanTerms> = {
  pv_ra_family: FAMILY,
  pv_ra_capped: { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [{ ...DATA, rollover: { percent: '50', maxQuantity: '3000' } }] },
};
const CATALOG: CatalogClient = { planTerms: async (id) => PLANS[id] ?? null };

const subscription = (billingAccountId: string, planVersionId: string, over: Partial<SubscriptionData> = {}): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: planVersionId, planVersionId,
  status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [], ...over,
});
const queued = async (acc: string) =>
  (await dbOf(svc).query<{ id: string; payload: string }>(`select id, payload from outbox where subject = $1 order by seq`, [EVENTS.bucketRolledOver.subject]))
    .map((r) => JSON.parse(r.payload) as { id: string; data: BucketRolledOverData }).filter((e) => e.data.billingAccountId === acc);
/** What reached NATS for the account, after the relay had time to publish all that is queued. */
async function published(acc: string) {
  const want = (await queued(acc)).length;
  for (let i = 0; i < 100 && seen.filter((e) => e.data.billingAccountId === acc).length < want; i++) await sleep(50);
  await sleep(300); // and nothing more comes
  return seen.filter((e) => e.data.billingAccountId === acc);
}
const rolloverBucket = async (grantKey: string) => (await dbOf(svc).query<{ id: string }>(`select id from bucket where grant_key = $1`, [grantKey]))[0]!.id;

describe('bucket.rolledover: rollovers no bundle.renewed announces', () => {
  it('a shared pool renewed on its own cadence (the member that opened it has left) announces what it carried, once', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '100.00' });
    const a = subscription(acc, 'pv_ra_family');
    const b = subscription(acc, 'pv_ra_family', { startsAt: at(10).toISOString() });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, a, FAMILY, T0)); // opens the pool [0, 30)
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, b, FAMILY, at(10)));
    await gql(svc, APPLY, { i: charge(acc, { lineId: b.lineId, units: '12000', allowanceIds: ['data'], occurredAt: at(12).toISOString() }) }); // 8,000 left
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...a, endsAt: at(20).toISOString() }, FAMILY, at(15)));

    // Day 30: the pool opens its next period on b's paid period and carries 50 % of 8,000; two passes at once, then a third.
    await Promise.all([runJobs(at(30, 1), CATALOG), runJobs(at(30, 1), CATALOG)]);
    await runJobs(at(30, 2), CATALOG);
    const bucketId = await rolloverBucket(`rollover:shared:${acc}:pv_ra_family:data:${at(30).toISOString()}`);
    const expected: BucketRolledOverData = {
      bucketId, billingAccountId: acc, lineId: null, subscriptionId: b.subscriptionId, planVersionId: 'pv_ra_family', allowanceId: 'data', shared: true,
      periodStart: at(30).toISOString(), periodEnd: at(60).toISOString(), quantity: '4000.000000', unit: 'MB',
    };
    expect((await queued(acc)).map((e) => e.data)).toEqual([expected]);
    const sent = await published(acc);
    expect(sent.map((e) => e.data)).toEqual([expected]);
    expect(sent[0]!.id).toBe((await queued(acc))[0]!.id);
    // No bundle.renewed was emitted for it (nobody renewed): this event is the only word usage gets.
    const renewedFor = (await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1`, [EVENTS.bundleRenewed.subject])).map((r) => JSON.parse(r.payload).data).filter((d) => d.billingAccountId === acc);
    expect(renewedFor).toEqual([]);
  });

  it('a rollover bucket a session\'s close makes after the renewal is announced, and again with its new total when a later close fills it', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '35.00' });
    const sub = subscription(acc, 'pv_ra_capped');
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, PLANS.pv_ra_capped!, T0));
    const hold = async (units: string) => {
      clock.set(at(30, -1));
      const d = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`, {
        i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: sub.lineId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: units, pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600 },
      });
      return d.reserveBalance.reservation.id as string;
    };
    const [r1, r2] = [await hold('5000'), await hold('5240')];
    await runJobs(at(30, 1), CATALOG); // carries nothing: the sessions hold all that was left
    expect(await queued(acc)).toEqual([]);

    // Half of 5,000 given back makes the rollover bucket (2,500); the same close again changes nothing.
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: r1, usedUnits: '0', closing: 'RELEASED' }], at(30, 2)));
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: r1, usedUnits: '0', closing: 'RELEASED' }], at(30, 2)));
    // Half of 5,240 would be 2,620; 500 fit under the 3,000 cap: the bucket grows to 3,000.
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: r2, usedUnits: '0', closing: 'RELEASED' }], at(30, 3)));
    const bucketId = await rolloverBucket(`${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`);
    const base = { bucketId, billingAccountId: acc, lineId: sub.lineId, subscriptionId: sub.subscriptionId, planVersionId: 'pv_ra_capped', allowanceId: 'data', shared: false, periodStart: at(30).toISOString(), periodEnd: at(60).toISOString(), unit: 'MB' };
    const want = [{ ...base, quantity: '2500.000000' }, { ...base, quantity: '3000.000000' }];
    expect((await queued(acc)).map((e) => e.data)).toEqual(want);
    expect((await published(acc)).map((e) => e.data)).toEqual(want);
  });
});
