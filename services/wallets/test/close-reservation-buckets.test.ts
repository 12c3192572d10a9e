// What a closing reservation gives back to the buckets it held units of (found in review, tenth
// session, left then; each test fails on the code before the fix).
//
// 1. closeMany read the status of those buckets without locking them. The bucket expiry job takes
//    no wallet lock: when it expired a bucket between the close's read (ACTIVE) and its write, the
//    units given back landed in the expired bucket and stayed there, never forfeited.
// 2. Units a session held over a renewal that carried nothing (it held all that was left) were
//    forfeited when it gave them back: there was no rollover bucket to carry them into. They roll
//    over now as they would have had they never been held: the rollover bucket is made then, as
//    the renewal would have made it, within the rule's maximum.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import type { SubscriptionData } from '@ledgerline/contracts';
import { T0, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { LATE_USAGE_GRACE_MS, expireBuckets, grantBucket } from '../src/application/buckets';
import { closeMany, reserve } from '../src/application/reservations';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';
import type { Sql } from '../src/persistence/sql';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const balance = async (id: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]?.balance;
const statusOf = async (id: string) => (await dbOf(svc).query<{ status: string }>(`select status from bucket where id = $1`, [id]))[0]!.status;

/** `sql`, paused after its first round trip (closeMany's reads and locks) until `resume`; `paused` is told. */
function pausedAfterReads(sql: Sql, paused: () => void, resume: Promise<void>): Sql {
  let first = true;
  return {
    query: (text, params) => sql.query(text, params),
    async queries(statements) {
      const rows = await sql.queries(statements);
      if (first) {
        first = false;
        paused();
        await resume;
      }
      return rows;
    },
    write: (text, params) => sql.write(text, params),
  };
}

describe('a reservation closed while the bucket expiry takes its bucket', () => {
  /** A 100 MB bucket valid for a day, 40 MB of it held by a session; `now`: past its validity and the late-usage grace. */
  async function heldBucket() {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '10.00' });
    const db = dbOf(svc);
    const bucket = await db.tx((sql) => grantBucket(sql, { billingAccountId: acc, lineId: null, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: T0, validTo: at(1), grantKey: uniq('grant'), now: T0 }));
    const held = await db.tx((sql) => reserve(sql, {
      requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '40', pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600,
    }, at(0, 600)));
    expect(held).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: '40' } });
    // The reservation expiry job was down past the bucket's grace: the close comes as late as the bucket's expiry.
    return { acc, bucket, reservationId: held.reservationId!, now: new Date(at(1).getTime() + LATE_USAGE_GRACE_MS + 60_000) };
  }

  it('the expiry runs between the close\'s read and its write: it leaves the bucket to its next pass, which forfeits the units given back too', async () => {
    const { acc, bucket, reservationId, now } = await heldBucket();
    const db = dbOf(svc);
    let paused!: () => void;
    let resume!: () => void;
    const read = new Promise<void>((r) => (paused = r));
    const resumed = new Promise<void>((r) => (resume = r));
    const closing = db.tx((sql) => closeMany(pausedAfterReads(sql, paused, resumed), [{ reservationId, usedUnits: '0', closing: 'EXPIRED' }], now));
    await read;
    // Before, this pass forfeited the 60 MB left and the close then put the 40 MB back into the expired bucket.
    const during = await db.tx((sql) => expireBuckets(sql, now));
    resume();
    expect((await closing)[0]).toMatchObject({ resultCode: 'SUCCESS', status: 'EXPIRED' });
    const after = await db.tx((sql) => expireBuckets(sql, now));

    expect({ expired: during.expired + after.expired, status: await statusOf(bucket.id), bucket: await balance(bucket.id), forfeited: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`) })
      .toEqual({ expired: 1, status: 'EXPIRED', bucket: '0.000000', forfeited: '100.000000' });
  });

  it('the expiry commits while the close waits for the bucket: the close reads it expired and forfeits the units given back', async () => {
    const { acc, bucket, reservationId, now } = await heldBucket();
    const db = dbOf(svc);
    let expired!: (pid: number) => void;
    let commit!: () => void;
    const expiredUncommitted = new Promise<number>((r) => (expired = r));
    const committing = new Promise<void>((r) => (commit = r));
    // The expiry job of another replica: it has expired the bucket (60 MB forfeited) and not committed yet.
    const expiry = db.tx(async (sql) => {
      const [{ pid }] = await sql.query<{ pid: number }>(`select pg_backend_pid() as pid`);
      const result = await expireBuckets(sql, now);
      expired(pid!);
      await committing;
      return result;
    });
    const expiryPid = await expiredUncommitted;
    const closing = db.tx((sql) => closeMany(sql, [{ reservationId, usedUnits: '0', closing: 'EXPIRED' }], now));
    // The close waits for the expiry's locks (before: at its write, having read the bucket ACTIVE).
    for (let i = 0; i < 100; i++) {
      if ((await db.query(`select 1 from pg_stat_activity where $1 = any(pg_blocking_pids(pid))`, [expiryPid])).length > 0) break;
      await sleep(50);
    }
    commit();
    expect(await expiry).toMatchObject({ expired: 1 });
    expect((await closing)[0]).toMatchObject({ resultCode: 'SUCCESS', status: 'EXPIRED' });

    // Before: bucket 40 (EXPIRED, never forfeited), 60 forfeited.
    expect({ status: await statusOf(bucket.id), bucket: await balance(bucket.id), forfeited: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`) })
      .toEqual({ status: 'EXPIRED', bucket: '0.000000', forfeited: '100.000000' });
  });
});

describe('units given back after a renewal that carried nothing (the session held all that was left)', () => {
  // As rollover-open-session.test.ts: 10,240 MB a period, 50 % of what is left rolls over (at most 5,120 MB).
  const DATA = { id: 'data', name: '10 GB', unit: 'MB', quantity: '10240', validity: 'PERIOD' as const, rollover: { percent: '50', maxQuantity: '5120' } };
  const PLANS: Record<string, PlanTerms> = {
    // And 6,000 seconds of voice that do not roll over.
    pv_voice: { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [DATA, { id: 'voice', name: '100 min', unit: 'SECOND', quantity: '6000', validity: 'PERIOD' }] },
    pv_capped: { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [{ ...DATA, rollover: { percent: '50', maxQuantity: '3000' } }] },
    pv_family: { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [{ ...DATA, shared: true }] },
  };
  const CATALOG: CatalogClient = { planTerms: async (id) => PLANS[id] ?? null };
  // The ended buckets' grace is 0 here: a pass after the close forfeits what did not roll over.
  const runJobs = (now: Date) => runWalletJobs(dbOf(svc), now, null, CATALOG, undefined, { lateUsageGraceMs: 0 });

  async function subscribe(planVersionId: string) {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '35.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000002', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: planVersionId, planVersionId,
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, PLANS[planVersionId]!, T0));
    return { acc, sub };
  }

  /** A minute before the period ends, the network holds `units` for a session (valid 10 minutes). */
  async function hold(acc: string, lineId: string, allowanceId: string, unit: string, units: string): Promise<string> {
    clock.set(at(30, -1));
    const d = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode grantedUnit { unitsFromAllowances } reservation { id } } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId, currency: 'EUR', usageType: 'DATA', unit, requestedUnits: units, pricePerUnit: '0.01', allowanceIds: [allowanceId], validitySeconds: 600 },
    });
    expect(d.reserveBalance).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: units } });
    return d.reserveBalance.reservation.id;
  }

  const rollovers = (acc: string) => dbOf(svc).query<{ id: string; grant_key: string; name: string; priority: number; valid_from: Date; valid_to: Date; carried_from: string; initial: string; remaining: string }>(
    `select b.id, b.grant_key, b.name, b.priority, b.valid_from, b.valid_to, b.carried_from, b.initial_quantity::text as initial, a.balance::text as remaining
       from bucket b join ledger_account a on a.id = b.id where b.billing_account_id = $1 and b.priority = 50 order by b.allowance_id`,
    [acc],
  );
  const bucketId = async (grantKey: string) => (await dbOf(svc).query<{ id: string }>(`select id from bucket where grant_key = $1`, [grantKey]))[0]!.id;

  it('what the session gives back rolls over into a rollover bucket made then, as the renewal makes it; an allowance without rollover still forfeits', async () => {
    const { acc, sub } = await subscribe('pv_voice');
    const data = await hold(acc, sub.lineId, 'data', 'MB', '10240');
    const voice = await hold(acc, sub.lineId, 'voice', 'SECOND', '6000');
    // The renewal finds nothing left to carry over.
    expect(await runJobs(at(30, 1))).toMatchObject({ bundlesRenewed: 1 });
    expect(await rollovers(acc)).toEqual([]);

    // The session ends having used 1,000 MB; the call is released unused.
    clock.set(at(30, 2));
    const committed = await gql(svc, `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode } }`, { i: { reservationId: data, usedUnits: '1000' } });
    expect(committed.commitReservation.resultCode).toBe('SUCCESS');
    await gql(svc, `mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { resultCode } }`, { i: { reservationId: voice } });
    await runJobs(at(30, 3));
    // A repeated commit and a later pass make nothing more.
    await gql(svc, `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode } }`, { i: { reservationId: data, usedUnits: '1000' } });
    await runJobs(at(30, 4));

    // 9,240 MB of the period were not used: 4,620 roll over, as they would had the session ended before the renewal. Before: none, all forfeited.
    const ending = await bucketId(`${sub.subscriptionId}:data:${T0.toISOString()}`);
    const made = await rollovers(acc);
    expect(made).toEqual([{
      id: expect.any(String), grant_key: `${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`, name: '10 GB (rollover)', priority: 50,
      valid_from: at(30), valid_to: at(60), carried_from: ending, initial: '4620.000000', remaining: '4620.000000',
    }]);
    const [moved] = await dbOf(svc).query<{ kind: string; entries: string }>(
      `select t.kind, string_agg(e.account_id || ' ' || e.amount::text, ', ' order by e.amount) as entries from ledger_transaction t join ledger_entry e on e.transaction_id = t.id
        where t.idempotency_key = $1 group by t.kind`,
      [`GRANT:${made[0]!.grant_key}`],
    );
    expect(moved).toEqual({ kind: 'BUCKET_ROLLOVER', entries: `${ending} -4620.000000, ${made[0]!.id} 4620.000000` });
    expect({ data: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`), voice: await balance(`${acc}:ALLOWANCE_EXPIRED:SECOND`), ending: await balance(ending) })
      .toEqual({ data: '4620.000000', voice: '6000.000000', ending: '0.000000' });
  });

  it('within the rule\'s maximum: two sessions given back in one batch make the rollover bucket, a third given back later fills it to the maximum', async () => {
    const { acc, sub } = await subscribe('pv_capped');
    const [a, b, c] = [await hold(acc, sub.lineId, 'data', 'MB', '2000'), await hold(acc, sub.lineId, 'data', 'MB', '3000'), await hold(acc, sub.lineId, 'data', 'MB', '5240')];
    await runJobs(at(30, 1));
    expect(await rollovers(acc)).toEqual([]);

    // 1,000 + 1,500 carried (half of what was given back), in one transaction.
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: a, usedUnits: '0', closing: 'RELEASED' }, { reservationId: b, usedUnits: '0', closing: 'RELEASED' }], at(30, 2)));
    expect((await rollovers(acc)).map((r) => [r.initial, r.remaining])).toEqual([['2500.000000', '2500.000000']]);
    // Half of 5,240 would be 2,620; 500 fit under 3,000.
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: c, usedUnits: '0', closing: 'RELEASED' }], at(30, 3)));
    await runJobs(at(30, 4));
    expect({ rollover: (await rollovers(acc)).map((r) => [r.initial, r.remaining]), forfeited: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`) })
      .toEqual({ rollover: [['3000.000000', '3000.000000']], forfeited: '7240.000000' });
  });

  it('a shared pool: the rollover bucket is the one the renewal that opened the next pool would have made', async () => {
    const { acc, sub } = await subscribe('pv_family');
    const held = await hold(acc, sub.lineId, 'data', 'MB', '10240');
    await runJobs(at(30, 1));
    expect(await rollovers(acc)).toEqual([]);
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: held, usedUnits: '240', closing: 'COMMITTED' }], at(30, 2)));
    await runJobs(at(30, 3));

    const ending = await bucketId(`shared:${acc}:pv_family:data:${T0.toISOString()}`);
    expect((await rollovers(acc)).map((r) => ({ key: r.grant_key, from: r.carried_from, validTo: r.valid_to, remaining: r.remaining })))
      .toEqual([{ key: `rollover:shared:${acc}:pv_family:data:${at(30).toISOString()}`, from: ending, validTo: at(60), remaining: '5000.000000' }]);
  });
});
