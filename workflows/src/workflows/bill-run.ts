// Bill run: bills one cycle date for many accounts, in batches.
//
// The parent plans the run through invoicing (idempotent per cycle date: a second start returns
// the same plan), then bills each batch in a child workflow whose id is derived from the parent's
// id and the batch number, so a restarted parent finds its children instead of duplicating them.
// At most `concurrency` children run at once. Progress is a query. Exactly one invoice per account
// and period is guaranteed underneath by invoicing (a batch is one transaction, the invoice is
// unique per account and period), so a batch retried after a crash is a no-op.
//
// A run started early (cycle dates are local to each account: from UTC+14) finds accounts whose
// period has not ended yet in their own time zone; invoicing bills the others and keeps those
// waiting. The workflow then sleeps until the first of those periods ends and bills whatever is
// due, until none waits.
//
// An account invoicing cannot bill for a reason its data gives (PLAN_VERSION_UNKNOWN, …) is set aside there:
// its batch bills the others and answers how many it set aside (`accountsSetAside`), and the run completes with
// them reported. Before, the batch's activity failed (non-retryable), the child and so the run failed, and the
// batches after it were never billed. No workflow command changed: no patch.
//
// Invoicing stops a call billing a batch once its time budget is spent (a cause refusing every account of a large
// batch costs about an attempt per account: minutes, past the activity's 90 s call timeout) and answers the accounts
// it left (`accountsLeft`): the batch's workflow calls it again, by number, until none is left (patch
// BILL_RUN_BATCH_CONTINUED; runs started before it call once, as they did).
import { ApplicationFailure, defineQuery, executeChild, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { InvoicingActivities } from '../activities/invoicing';
import { billRunBatchInputProblems, billRunInputProblems } from '../domain/bill-run';
import { ErrorCode } from '../errors';

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
  /**
   * Accounts invoicing set aside (it could not bill them for a reason their data gives, e.g. PLAN_VERSION_UNKNOWN):
   * not billed, not in accountsDone; the run completes without them. Invoicing's BillRun.setAsideAccounts says which
   * and why; staff bill them once fixed (billSetAsideAccounts).
   */
  accountsSetAside: number;
  done: boolean;
}

export interface BillRunBatchInput {
  billRunId: string;
  /** null: any batch due (pending, or with waiting accounts whose period has ended since). */
  batchNo: number | null;
}

/** Workflow id of the run of a cycle date: starting it twice finds the running one. */
export const billRunWorkflowId = (cycleDate: string): string => `bill-run-${cycleDate}`;
export const billRunBatchWorkflowId = (parentId: string, batchNo: number): string => `${parentId}-batch-${batchNo}`;

export const billRunProgressQuery = defineQuery<BillRunProgress>('billRunProgress');

const { startBillRun } = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { processBillRunBatch, billRunState } = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * The input is checked first (patch `bill-run-input-checked`): a run started by hand with a bad one
 * fails at once, non-retryably (INVALID_BILL_RUN_INPUT, naming every field), before invoicing is
 * asked. Before it, no input threw a TypeError (the workflow task retried for ever), a concurrency
 * that is not a number ended the run "done" with nothing billed, and the rest failed deep in
 * invoicing. Runs started before it replay without the check (one whose bad concurrency left it
 * waiting for late accounts would otherwise fail on replay).
 */
export const BILL_RUN_INPUT_CHECKED = 'bill-run-input-checked';

function checkInput(problems: string[], what: string): void {
  if (problems.length === 0 || !patched(BILL_RUN_INPUT_CHECKED)) return;
  throw ApplicationFailure.nonRetryable(`invalid ${what}: ${problems.join('; ')}`, ErrorCode.INVALID_BILL_RUN_INPUT, { problems });
}

export async function billRunWorkflow(input: BillRunInput): Promise<BillRunProgress> {
  checkInput(billRunInputProblems(input), 'bill run');
  const progress: BillRunProgress = { billRunId: null, cycleDate: input.cycleDate, totalBatches: 0, totalAccounts: 0, batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsSetAside: 0, done: false };
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
      progress.accountsDone += r.accounts - (r.accountsSetAside ?? 0);
      progress.invoicesCreated += r.invoicesCreated;
      progress.accountsSetAside += r.accountsSetAside ?? 0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.totalBatches) }, worker));
  // Runs started before this existed finish here, as they did (their waiting accounts are billed
  // by starting the cycle date again).
  if (patched('bill-run-bills-waiting-accounts')) await billWaitingAccounts(plan.billRunId, parentId, progress);
  progress.done = true;
  return progress;
}

/** If a retry of a pass finds nothing due (clocks a little apart), the next look is this much later. */
const IDLE_RETRY_MS = 60_000;

/** Sleeps until the first waiting account's period has ended, bills what is due, until none waits. */
async function billWaitingAccounts(billRunId: string, parentId: string, progress: BillRunProgress): Promise<void> {
  let billedLastPass = true;
  for (let pass = 1; ; pass++) {
    const state = await billRunState({ billRunId });
    progress.batchesDone = state.batchesDone;
    progress.accountsDone = state.accountsDone;
    progress.invoicesCreated = state.invoicesCreated;
    progress.accountsSetAside = state.accountsSetAside ?? progress.accountsSetAside;
    if (state.accountsWaiting === 0 || !state.nextAttemptAt) return;
    const wait = Date.parse(state.nextAttemptAt) - Date.now();
    await sleep(Math.max(wait, billedLastPass ? 0 : IDLE_RETRY_MS, 1));
    billedLastPass = false;
    for (let i = 0; ; i++) {
      const r = await executeChild(billRunBatchWorkflow, { workflowId: `${parentId}-pass-${pass}-${i}`, args: [{ billRunId, batchNo: null }] });
      if (r.batchNo === null) break;
      billedLastPass = true;
    }
  }
}

/** A batch answered with accounts left (invoicing's time budget per call spent) is called again until none is left. */
export const BILL_RUN_BATCH_CONTINUED = 'bill-run-batch-continued';

export async function billRunBatchWorkflow(input: BillRunBatchInput): Promise<{ batchNo: number | null; accounts: number; invoicesCreated: number; accountsSetAside?: number; accountsLeft?: number }> {
  checkInput(billRunBatchInputProblems(input), 'bill run batch');
  let r = await processBillRunBatch({ billRunId: input.billRunId, batchNo: input.batchNo });
  // Each call commits what it decided (at least one account), so this ends; the last answer holds the batch's totals.
  while ((r.accountsLeft ?? 0) > 0 && r.batchNo != null && patched(BILL_RUN_BATCH_CONTINUED)) {
    r = await processBillRunBatch({ billRunId: input.billRunId, batchNo: r.batchNo });
  }
  return r;
}
