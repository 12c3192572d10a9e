import type { ServiceRuntime } from '@ledgerline/platform';
import type { Db } from '../persistence/sql';
import { expireBuckets } from '../application/buckets';
import { expireReservations } from '../application/reservations';
import { syncRecharges } from '../application/recharge';
import type { RechargeStarter } from '../adapters/recharge-starter';
import { depsOf } from '../deps';

/** One pass of the periodic jobs, with the clock passed in (tests call it with a manual clock). */
export async function runWalletJobs(db: Db, now: Date, starter: RechargeStarter | null = null): Promise<{ reservationsExpired: number; bucketsExpired: number; bucketsWarned: number; rechargesSettled: number }> {
  const reservationsExpired = await db.tx((sql) => expireReservations(sql, now));
  const buckets = await db.tx((sql) => expireBuckets(sql, now));
  const rechargesSettled = starter ? await syncRecharges(db, starter, now) : 0;
  return { reservationsExpired, bucketsExpired: buckets.expired, bucketsWarned: buckets.warned, rechargesSettled };
}

export function startJobs(runtime: ServiceRuntime, db: Db, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => runWalletJobs(db, runtime.clock.now(), depsOf(runtime).rechargeStarter).then(() => runtime.relay.nudge())).catch((error) => runtime.logger.warn({ err: error }, 'wallet jobs failed'));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
