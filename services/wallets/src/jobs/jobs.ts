import type { ServiceRuntime } from '@ledgerline/platform';
import type { Db } from '../persistence/sql';
import { expireBuckets } from '../application/buckets';
import { expireReservations } from '../application/reservations';

/** One pass of the periodic jobs, with the clock passed in (tests call it with a manual clock). */
export async function runWalletJobs(db: Db, now: Date): Promise<{ reservationsExpired: number; bucketsExpired: number; bucketsWarned: number }> {
  const reservationsExpired = await db.tx((sql) => expireReservations(sql, now));
  const buckets = await db.tx((sql) => expireBuckets(sql, now));
  return { reservationsExpired, bucketsExpired: buckets.expired, bucketsWarned: buckets.warned };
}

export function startJobs(runtime: ServiceRuntime, db: Db, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => runWalletJobs(db, runtime.clock.now()).then(() => runtime.relay.nudge())).catch((error) => runtime.logger.warn({ err: error }, 'wallet jobs failed'));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
