import type { Logger } from '@ledgerline/platform';

export interface SweeperOptions {
  /** For the logs: what a pass did, e.g. "re-published ChargeRequests that no ChargeResult answered". */
  what: string;
  intervalMs: number;
  logger: Logger;
  /** One pass: how many items it handled, and whether a full batch says more are waiting. */
  pass: () => Promise<{ done: number; more: boolean }>;
}

/**
 * Runs a sweeper's pass every `intervalMs` (the first within a second of the start), again at
 * once while a pass reports a full batch. A failing pass is logged and tried at the next tick;
 * stopping waits for the pass under way.
 */
export function startSweeper(o: SweeperOptions): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      try {
        for (let more = true; more && !stopped; ) {
          const r = await o.pass();
          if (r.done > 0) o.logger.info({ items: r.done }, o.what);
          more = r.more;
        }
      } catch (error) {
        o.logger.warn({ err: error }, `${o.what}: the pass failed; will retry`);
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
