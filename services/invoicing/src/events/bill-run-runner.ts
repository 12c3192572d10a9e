// The service's own bill-run driver: processes pending batches of SERVICE-driven runs, one batch
// per transaction, until none is left. Several replicas may run it side by side (batches are
// claimed with SKIP LOCKED). A Temporal-driven run (driver WORKFLOW) is left to its workflow.
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import { processBillRunBatch, runnableBillRuns } from '../application/bill-run';
import type { BillingDeps } from '../application/bill-accounts';

export function startBillRunRunner(runtime: ServiceRuntime, deps: BillingDeps, { idleMs = 500 } = {}) {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (running) {
      let worked = false;
      try {
        for (const runId of await runnableBillRuns(runtime.orm.em.fork() as Em)) {
          for (;;) {
            if (!running) break;
            const done = await runtime.orm.em.fork().transactional((em) => processBillRunBatch(em as Em, runId, null, deps, runtime.clock.now()));
            if (!done) break;
            worked = true;
          }
        }
      } catch (error) {
        runtime.logger.warn({ err: error }, 'bill run batch failed; it stays pending and will be retried');
      }
      if (!worked && running) await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, idleMs))));
    }
  })();
  return {
    nudge: () => wake(),
    stop: async () => {
      running = false;
      if (timer) clearTimeout(timer);
      wake();
      await loop;
    },
  };
}
