import type { Clock, Logger } from '@ledgerline/platform';
import { sweepCharges } from '../application/sweep-charges';
import type { Sql } from '../persistence/sql';

/** Runs the charge sweeper every `intervalMs` (see application/sweep-charges.ts). */
export function startChargeSweeper(sql: Sql, publish: (charges: { id: string; payload: string }[]) => Promise<void>, o: { intervalMs: number; graceMs: number; clock: Clock; logger: Logger }): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      try {
        for (let n = 1; n > 0 && !stopped; ) {
          n = await sweepCharges(sql, publish, o.clock.now(), { graceMs: o.graceMs });
          if (n > 0) o.logger.info({ charges: n }, 're-published ChargeRequests that no ChargeResult answered');
          if (n < 2000) break;
        }
      } catch (error) {
        o.logger.warn({ err: error }, 'charge sweep failed; will retry');
      }
      if (!stopped) timer = setTimeout(tick, o.intervalMs);
    })();
  };
  timer = setTimeout(tick, Math.min(o.intervalMs, 1000));
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
