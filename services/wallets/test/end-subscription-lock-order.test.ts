// The end of a subscription against charging (found in review, eleventh session): subscribers'
// subscription.changed with `endsAt` ends the subscription's own buckets (`endSubscriptionBuckets`).
// It updated them without the account's wallet lock, while every other writer of a bucket locks
// the wallets first, then the buckets in id order. On a prepaid plan whose fee prorates daily the
// end then locks the wallet for its refund (`refundUnusedPeriod`): bucket, then wallet. A charge
// batch or a reservation close of the same line at that moment holds the wallet and waits for the
// bucket, the end waits for the wallet, and PostgreSQL aborts one of them (40P01, deadlock
// detected): the usage is charged again later, or the end redelivered. Now the end locks the
// account's wallets first, then its buckets in id order: the other waits, and then reads the bucket
// as the end left it (a charge locks the buckets before it reads them).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import type { SubscriptionData } from '@ledgerline/contracts';
import { T0, balanceOf, charge, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import { applyCharges } from '../src/application/apply-charges';
import { closeMany, reserve } from '../src/application/reservations';
import type { PlanTerms } from '../src/adapters/catalog-client';
import type { Sql } from '../src/persistence/sql';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const balance = async (id: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]?.balance;

/** 1 GB for 15.00 every 30 days, prorated daily: an end inside a paid period gives the unused whole days back. */
const DAILY: PlanTerms = {
  recurringFee: { amount: '15.00', period: 'DAYS30', proration: 'DAILY' },
  allowances: [{ id: 'data', name: '1 GB', unit: 'MB', quantity: '1000', validity: 'PERIOD' }],
};
/** Ends on day 20 at noon: day 20 counts as used, 9 whole days come back, 15.00 × 9 / 30 = 4.50. */
const ENDS_AT = at(20, 12 * 60);

/** A prepaid line on DAILY, its first period paid (20.00 − 15.00 = 5.00) and its 1000 MB bucket granted. */
async function paidLine() {
  const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
  const sub: SubscriptionData = {
    subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'DAILY', planVersionId: 'pv_daily',
    status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
  };
  await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, DAILY, T0));
  const [bucket] = await dbOf(svc).query<{ id: string }>(`select id from bucket where grant_key = $1`, [`${sub.subscriptionId}:data:${T0.toISOString()}`]);
  expect(await balanceOf(svc, walletId)).toBe('5');
  return { acc, walletId, sub, bucketId: bucket!.id };
}

/**
 * The end of `sub` (subscription.changed, ENDED at ENDS_AT), held open right after its bucket
 * update until `resume`; `held` gets its backend's pid. Where the end stands then: before, holding
 * the bucket and not the wallet; now, holding both.
 */
function heldEnd(sub: SubscriptionData, resume: Promise<void>): { end: Promise<void>; held: Promise<number> } {
  let told!: (pid: number) => void;
  const held = new Promise<number>((r) => (told = r));
  const end = dbOf(svc).tx((sql) => {
    const paused: Sql = {
      async query(text, params) {
        const rows = await sql.query(text, params);
        if (/^\s*update bucket set valid_to/.test(text)) {
          const [{ pid }] = await sql.query<{ pid: number }>(`select pg_backend_pid() as pid`);
          told(pid!);
          await resume;
        }
        return rows as never[];
      },
      queries: (statements) => sql.queries(statements),
      write: (text, params) => sql.write(text, params),
    };
    return followSubscriptionChange(paused, { ...sub, status: 'ENDED', endsAt: ENDS_AT.toISOString() }, DAILY, ENDS_AT);
  });
  return { end, held };
}

/** Waits until some backend waits for a lock `pid` holds (pg_blocking_pids); throws if none does in 10 s. */
async function blockedBy(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await dbOf(svc).query(`select 1 from pg_stat_activity where $1::int = any(pg_blocking_pids(pid))`, [pid])).length > 0) return;
    await sleep(50);
  }
  throw new Error(`nothing waited for backend ${pid}`);
}

/** Both settled: a rejection shows as its SQLSTATE and message (40P01: deadlock detected). */
async function settled(...work: Promise<unknown>[]) {
  return (await Promise.allSettled(work)).map((s) => (s.status === 'fulfilled' ? 'ok' : `${(s.reason as { code?: string }).code ?? ''} ${(s.reason as Error).message}`.trim()));
}

describe('the end of a subscription and a charge of its line at the same moment', () => {
  it('a charge batch arriving while the end holds the bucket: the charge waits for the end instead of deadlocking with it, and is decided on the ended bucket and the refunded balance', async () => {
    const { acc, walletId, sub, bucketId } = await paidLine();
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    const { end, held } = heldEnd(sub, resumed);
    const pid = await held;
    // Two CDRs of the line in one batch: 100 MB before the end (from the bucket), 2 MB after it (money, 1.00 per MB).
    const before = charge(acc, { lineId: sub.lineId, units: '100', allowanceIds: ['data'], occurredAt: at(20, 600).toISOString() });
    const after = charge(acc, { lineId: sub.lineId, units: '2', allowanceIds: ['data'], occurredAt: at(20, 780).toISOString() });
    const charging = applyCharges(dbOf(svc), [before, after] as never, at(20, 781));
    await blockedBy(pid);
    resume();
    // Before: ['ok', '40P01 deadlock detected'] (or the other way round).
    expect(await settled(end, charging)).toEqual(['ok', 'ok']);

    const results = await charging;
    expect(results.map((r) => ({ outcome: r.outcome, units: r.unitsFromAllowances, amount: Number(r.amountCharged) }))).toEqual([
      { outcome: 'APPLIED', units: '100', amount: 0 },
      { outcome: 'APPLIED', units: '0', amount: 2 },
    ]);
    const [ended] = await dbOf(svc).query<{ valid_to: Date }>(`select valid_to from bucket where id = $1`, [bucketId]);
    // 5.00 + 4.50 refunded − 2.00 charged; the bucket ends at the end, 900 MB left.
    expect({ wallet: await balanceOf(svc, walletId), bucket: await balance(bucketId), validTo: ended!.valid_to.toISOString() })
      .toEqual({ wallet: '7.5', bucket: '900.000000', validTo: ENDS_AT.toISOString() });
  });

  it('a reservation commit arriving while the end holds the bucket: the commit waits for the end instead of deadlocking with it', async () => {
    const { acc, walletId, sub, bucketId } = await paidLine();
    const reserved = await dbOf(svc).tx((sql) => reserve(sql, {
      requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: sub.lineId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '40', pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600,
    }, at(20, 600)));
    expect(reserved).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: '40' } });
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    const { end, held } = heldEnd(sub, resumed);
    const pid = await held;
    // The session reports 30 MB used before the end: 10 MB go back to the bucket.
    const closing = dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: reserved.reservationId!, usedUnits: '30', closing: 'COMMITTED' }], at(20, 700)));
    await blockedBy(pid);
    resume();
    // Before: ['ok', '40P01 deadlock detected'] (or the other way round).
    expect(await settled(end, closing)).toEqual(['ok', 'ok']);

    expect((await closing)[0]).toMatchObject({ resultCode: 'SUCCESS', status: 'COMMITTED', unitsFromAllowances: '30', amountCharged: '0.000000' });
    // 5.00 + 4.50 refunded; 1000 − 30 MB left in the bucket, which ends at the end.
    expect({ wallet: await balanceOf(svc, walletId), bucket: await balance(bucketId) }).toEqual({ wallet: '9.5', bucket: '970.000000' });
  });
});
