import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import { provisioningRequest } from '../application/fulfil-order';
import type { EndedFulfilment, OrderDispatcher } from './order-dispatcher';

/** Workflow type and id the workflows package registers (workflows/src/workflows/order-fulfilment.ts). */
export const ORDER_WORKFLOW = 'orderFulfilmentWorkflow';
export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;

/**
 * Starts the Temporal order workflow for a committed order and returns at once (the order stays
 * ACKNOWLEDGED until the workflow's first step). One workflow per order id, ever: a second
 * dispatch (the re-dispatch sweep, a retry) joins the existing one.
 */
export class TemporalOrderDispatcher implements OrderDispatcher {
  constructor(
    private readonly client: Client,
    private readonly taskQueue = 'ledgerline',
  ) {}

  async dispatch(orderId: string, runtime: ServiceRuntime): Promise<void> {
    const provisioning = await provisioningRequest(runtime.orm.em.fork() as Em, orderId);
    try {
      await this.client.workflow.start(ORDER_WORKFLOW, {
        workflowId: orderWorkflowId(orderId),
        taskQueue: this.taskQueue,
        args: [{ orderId, provisioning }],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  /**
   * The order's workflow, if it ended without settling the order: TERMINATED (an operator), FAILED
   * (a step refused for good: the worker's token refused, failOrder refused), TIMED_OUT, CANCELLED.
   * Null while it runs, when there is none (never started, or gone past the namespace's retention:
   * then `dispatch` starts one), and for one that COMPLETED: the workflow completes only once the
   * service has settled the order (its result is the order's COMPLETED or FAILED).
   */
  async endedRun(orderId: string): Promise<EndedFulfilment | null> {
    const handle = this.client.workflow.getHandle(orderWorkflowId(orderId));
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    }
    if (!['TERMINATED', 'FAILED', 'TIMED_OUT', 'CANCELLED'].includes(status)) return null;
    const reason = await handle.result().then(
      () => status,
      (error: unknown) => failureChain(error instanceof WorkflowFailedError ? error.cause : error),
    );
    return { status, reason };
  }
}

/** A failure and its causes, outermost first ("activity task failed: Only Ledgerline workflows may do this"). */
function failureChain(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as { message?: unknown; cause?: unknown } | undefined, n = 0; e && n < 5; e = e.cause as typeof e, n++) {
    const message = typeof e.message === 'string' ? e.message.trim() : '';
    if (message && !parts.includes(message)) parts.push(message);
  }
  return parts.join(': ') || 'no reason given';
}
