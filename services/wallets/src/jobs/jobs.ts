import { DEFAULT_APPROVAL_TTL_HOURS } from '@ledgerline/contracts';
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
import { expireAdjustmentRequests } from '../application/balance-adjustment-approvals';
import { settleClosedWallets } from '../application/settle-closed-wallets';
import type { RetryPolicy } from '../domain/auto-topup';

/** One pass of the periodic jobs, with the clock passed in (tests call it with a manual clock). */
export async function runWalletJobs(
  db: Db,
  now: Date,
  starter: RechargeStarter | null = null,
  catalog: CatalogClient | null = null,
  logger?: Logger,
  options: { lateUsageGraceMs?: number; autoTopupRetry?: RetryPolicy; approvalTtlHours?: number } = {},
): Promise<{ reservationsExpired: number; bundlesRenewed: number; renewalsRefused: number; poolsRenewed: number; bucketsExpired: number; bucketsWarned: number; rechargesSettled: number; autoTopupsRetried: number; approvalRequestsExpired: number; walletsSettled: number }> {
  // Each step on its own: one that fails (Temporal away when syncRecharges starts a recharge, a
  // catalog error) is logged and the others still run; it is tried again at the next pass.
  const step = async <T>(name: string, run: () => Promise<T>, none: T): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      logger?.warn({ err: error, step: name }, `wallet jobs: ${name} failed; the other steps go on`);
      return none;
    }
  };
  const reservationsExpired = await step('expireReservations', () => db.tx((sql) => expireReservations(sql, now)), 0);
  // Closed wallets whose late-usage grace ended (finalAt): balance final, wallet.settled once per account.
  const walletsSettled = await step('settleClosedWallets', () => settleClosedWallets(db, now), 0);
  // Renewals before expiry: a rollover reads what the ending bucket has left before it is forfeited.
  const renewals = catalog ? await step('renewDueAllowances', async () => {
    const r = await renewDueAllowances(db, catalog, now, logger);
    return { RENEWED: r.RENEWED, FEE_NOT_COVERED: r.FEE_NOT_COVERED };
  }, { RENEWED: 0, FEE_NOT_COVERED: 0 }) : { RENEWED: 0, FEE_NOT_COVERED: 0 };
  // After the lines: a member renewing at the pool's end opens the next pool itself (and rolls it over).
  const poolsRenewed = catalog ? await step('renewDueSharedPools', () => renewDueSharedPools(db, catalog, now, logger), 0) : 0;
  const buckets = await step('expireBuckets', () => db.tx((sql) => expireBuckets(sql, now, undefined, undefined, options.lateUsageGraceMs)), { expired: 0, warned: 0 });
  const rechargesSettled = starter ? await step('syncRecharges', () => syncRecharges(db, starter, now), 0) : 0;
  // After the sync: a recharge it settled as DECLINED is judged for a retry in the same pass.
  const autoTopupsRetried = await step('retryAutoTopups', () => retryAutoTopups(db, now, options.autoTopupRetry), 0);
  // Balance adjustment requests nobody decided within the TTL can no longer be approved (four eyes).
  const approvalRequestsExpired = await step('expireAdjustmentRequests', async () => (await expireAdjustmentRequests(db, now, options.approvalTtlHours ?? DEFAULT_APPROVAL_TTL_HOURS)).length, 0);
  return { reservationsExpired, bundlesRenewed: renewals.RENEWED, renewalsRefused: renewals.FEE_NOT_COVERED, poolsRenewed, bucketsExpired: buckets.expired, bucketsWarned: buckets.warned, rechargesSettled, autoTopupsRetried, approvalRequestsExpired, walletsSettled };
}

export function startJobs(runtime: ServiceRuntime, db: Db, intervalMs: number, options: { lateUsageGraceMs?: number; approvalTtlHours?: number } = {}): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => runWalletJobs(db, runtime.clock.now(), depsOf(runtime).rechargeStarter, depsOf(runtime).catalog, runtime.logger, options).then(() => runtime.relay.nudge())).catch((error) => runtime.logger.warn({ err: error }, 'wallet jobs failed'));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
