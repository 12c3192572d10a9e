import type { Logger, ServiceRuntime } from '@ledgerline/platform';
import type { Db } from '../persistence/sql';
import { expireBuckets } from '../application/buckets';
import { expireReservations } from '../application/reservations';
import { syncRecharges } from '../application/recharge';
import type { RechargeStarter } from '../adapters/recharge-starter';
import { depsOf } from '../deps';
import type { CatalogClient } from '../adapters/catalog-client';
import { renewDueAllowances, renewDueSharedPools } from '../application/renew-allowances';
import { retryAutoTopups } from '../application/balance-events';
import type { RetryPolicy } from '../domain/auto-topup';

/** One pass of the periodic jobs, with the clock passed in (tests call it with a manual clock). */
export async function runWalletJobs(
  db: Db,
  now: Date,
  starter: RechargeStarter | null = null,
  catalog: CatalogClient | null = null,
  logger?: Logger,
  options: { lateUsageGraceMs?: number; autoTopupRetry?: RetryPolicy } = {},
): Promise<{ reservationsExpired: number; bundlesRenewed: number; renewalsRefused: number; poolsRenewed: number; bucketsExpired: number; bucketsWarned: number; rechargesSettled: number; autoTopupsRetried: number }> {
  const reservationsExpired = await db.tx((sql) => expireReservations(sql, now));
  // Renewals before expiry: a rollover reads what the ending bucket has left before it is forfeited.
  const renewals = catalog ? await renewDueAllowances(db, catalog, now, logger) : { RENEWED: 0, FEE_NOT_COVERED: 0 };
  // After the lines: a member renewing at the pool's end opens the next pool itself (and rolls it over).
  const poolsRenewed = catalog ? await renewDueSharedPools(db, catalog, now, logger) : 0;
  const buckets = await db.tx((sql) => expireBuckets(sql, now, undefined, undefined, options.lateUsageGraceMs));
  const rechargesSettled = starter ? await syncRecharges(db, starter, now) : 0;
  // After the sync: a recharge it settled as DECLINED is judged for a retry in the same pass.
  const autoTopupsRetried = await retryAutoTopups(db, now, options.autoTopupRetry);
  return { reservationsExpired, bundlesRenewed: renewals.RENEWED, renewalsRefused: renewals.FEE_NOT_COVERED, poolsRenewed, bucketsExpired: buckets.expired, bucketsWarned: buckets.warned, rechargesSettled, autoTopupsRetried };
}

export function startJobs(runtime: ServiceRuntime, db: Db, intervalMs: number, options: { lateUsageGraceMs?: number } = {}): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => runWalletJobs(db, runtime.clock.now(), depsOf(runtime).rechargeStarter, depsOf(runtime).catalog, runtime.logger, options).then(() => runtime.relay.nudge())).catch((error) => runtime.logger.warn({ err: error }, 'wallet jobs failed'));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
