import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import { provisioningRequest } from '../application/fulfil-order';
import type { OrderDispatcher } from './order-dispatcher';

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
}
