// Bill run: bills one cycle date for many accounts, in batches.
//
// The parent plans the run through invoicing (idempotent per cycle date: a second start returns
// the same plan), then bills each batch in a child workflow whose id is derived from the parent's
// id and the batch number, so a restarted parent finds its children instead of duplicating them.
// At most `concurrency` children run at once. Progress is a query. Exactly one invoice per account
// and period is guaranteed underneath by invoicing (a batch is one transaction, the invoice is
// unique per account and period), so a batch retried after a crash is a no-op.
import { defineQuery, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { InvoicingActivities } from '../activities/invoicing';

export interface BillRunInput {
  /** YYYY-MM-DD, local to each account. */
  cycleDate: string;
  batchSize?: number;
  /** Children in flight at once (default 4). */
  concurrency?: number;
}

export interface BillRunProgress {
  billRunId: string | null;
  cycleDate: string;
  totalBatches: number;
  totalAccounts: number;
  batchesDone: number;
  accountsDone: number;
  invoicesCreated: number;
  done: boolean;
}

export interface BillRunBatchInput {
  billRunId: string;
  batchNo: number;
}

/** Workflow id of the run of a cycle date: starting it twice finds the running one. */
export const billRunWorkflowId = (cycleDate: string): string => `bill-run-${cycleDate}`;
export const billRunBatchWorkflowId = (parentId: string, batchNo: number): string => `${parentId}-batch-${batchNo}`;

export const billRunProgressQuery = defineQuery<BillRunProgress>('billRunProgress');

const { startBillRun } = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { processBillRunBatch } = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function billRunWorkflow(input: BillRunInput): Promise<BillRunProgress> {
  const progress: BillRunProgress = { billRunId: null, cycleDate: input.cycleDate, totalBatches: 0, totalAccounts: 0, batchesDone: 0, accountsDone: 0, invoicesCreated: 0, done: false };
  setHandler(billRunProgressQuery, () => progress);

  const plan = await startBillRun({ cycleDate: input.cycleDate, batchSize: input.batchSize ?? 500 });
  progress.billRunId = plan.billRunId;
  progress.totalBatches = plan.totalBatches;
  progress.totalAccounts = plan.totalAccounts;

  const parentId = workflowInfo().workflowId;
  const concurrency = Math.max(1, input.concurrency ?? 4);
  let next = 0;
  const worker = async () => {
    while (next < plan.totalBatches) {
      const batchNo = next++;
      const r = await executeChild(billRunBatchWorkflow, { workflowId: billRunBatchWorkflowId(parentId, batchNo), args: [{ billRunId: plan.billRunId, batchNo }] });
      progress.batchesDone += 1;
      progress.accountsDone += r.accounts;
      progress.invoicesCreated += r.invoicesCreated;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.totalBatches) }, worker));
  progress.done = true;
  return progress;
}

export async function billRunBatchWorkflow(input: BillRunBatchInput): Promise<{ batchNo: number; accounts: number; invoicesCreated: number }> {
  return processBillRunBatch({ billRunId: input.billRunId, batchNo: input.batchNo });
}
