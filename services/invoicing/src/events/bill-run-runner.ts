// The service's own bill-run driver: processes pending batches of SERVICE-driven runs, one batch
// per transaction, until none is left. Several replicas may run it side by side (batches are
// claimed with SKIP LOCKED). A Temporal-driven run (driver WORKFLOW) is left to its workflow.
// After each batch commits, the dunning workflows of invoices its account credit paid (a negative
// invoice paying an older, dunned one) are told to look again, as after a payment: the batch's use
// case queues that itself (credit-paid-told.ts), whichever driver bills it. An account a batch
// cannot bill for a reason its data gives is set aside (logged here, BillRun.setAsideAccounts); any other
// failure leaves the batch pending, retried at the next pass.
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
            const now = runtime.clock.now();
            const done = await runtime.orm.em.fork().transactional((em) => processBillRunBatch(em as Em, runId, null, deps, now));
            if (!done) break;
            worked = true;
            for (const s of done.setAsideNow ?? []) runtime.logger.warn({ runId, batchNo: done.batchNo, ...s }, 'bill run: account set aside, its batch billed without it');
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
