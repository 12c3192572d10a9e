// Starting workflows the idempotent way, for the services and tests that start them.
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { rechargeWorkflowId, type RechargeInput } from './domain/recharge';
import { DEFAULT_TASK_QUEUE } from './worker';
import type { rechargeWorkflow } from './workflows/recharge';
import type { billCycleWorkflow, BillCycleInput } from './workflows/bill-cycle';
import { billCycleWorkflowId } from './domain/bill-cycle';

/**
 * Starts the recharge, or returns the handle of the one already started for this recharge id
 * (running or finished): a recharge id can only ever be one workflow, hence one charge.
 */
export async function startRecharge(client: Client, input: RechargeInput, opts: { taskQueue?: string } = {}): Promise<WorkflowHandle<typeof rechargeWorkflow>> {
  const workflowId = rechargeWorkflowId(input.rechargeId);
  try {
    return await client.workflow.start<typeof rechargeWorkflow>('rechargeWorkflow', {
      workflowId,
      taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
      args: [input],
      // A finished recharge is never run again; a running one is joined instead of failing.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle<typeof rechargeWorkflow>(workflowId);
    throw err;
  }
}

/**
 * Starts the account's bill cycle unless it is already running (then its handle). A cycle that
 * completed (the account closed) is never started again: WorkflowExecutionAlreadyStartedError. One
 * that failed or was terminated may be started anew (it catches up from `startFrom`; closing a
 * period again bills nothing twice).
 */
export async function startBillCycle(client: Client, input: BillCycleInput, opts: { taskQueue?: string } = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof billCycleWorkflow>> {
  return client.workflow.start<typeof billCycleWorkflow>('billCycleWorkflow', {
    workflowId: billCycleWorkflowId(input.billingAccountId),
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
  });
}
