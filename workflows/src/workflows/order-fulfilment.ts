// Order fulfilment (subscribers' product orders: new line, plan change, suspend, resume, bar,
// terminate) as a saga:
//   startOrder (ACKNOWLEDGED → IN_PROGRESS)
//   → executeProvisioning on the network (retried; a hung call times out and is retried)
//   → completeOrder: the service applies the effect (line status, subscriptions, one-off charges)
// If provisioning fails for good, or the service refuses to complete (e.g. the line changed in the
// meantime), compensateProvisioning undoes the network side and failOrder records why (→ FAILED).
// The workflow id is `order-${orderId}`, so an order can only ever be fulfilled once; every step is
// idempotent on the service and the network (key `order:${orderId}`).
import { ActivityFailure, ApplicationFailure, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { OrderActivities, OrderProvisioningRequest } from '../activities/orders';

export interface OrderFulfilmentInput {
  orderId: string;
  provisioning: OrderProvisioningRequest;
}

export interface OrderFulfilmentResult {
  orderId: string;
  status: 'COMPLETED' | 'FAILED';
  failureCode?: string;
}

export type OrderFulfilmentStep = 'start' | 'provision' | 'complete' | 'compensate' | 'fail' | 'done';
export const orderStepQuery = defineQuery<OrderFulfilmentStep>('orderStep');

export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;

// Decisions of the service (CONFLICT, NOT_FOUND...) come back non-retryable; outages retry.
const { startOrder, completeOrder } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// The network gets a bounded number of tries, then the order fails and is compensated.
const { executeProvisioning } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

// Compensation and recording the failure must eventually happen: retry without limit.
const { compensateProvisioning, failOrder } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

function failureOf(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'ORDER_FAILED', message: cause.message };
  if (cause && typeof cause === 'object' && 'message' in cause) {
    const name = (cause as { name?: string }).name;
    return { code: name === 'TimeoutFailure' ? 'PROVISIONING_TIMEOUT' : 'PROVISIONING_FAILED', message: String((cause as { message: unknown }).message) };
  }
  return { code: 'ORDER_FAILED', message: String(err) };
}

export async function orderFulfilmentWorkflow(input: OrderFulfilmentInput): Promise<OrderFulfilmentResult> {
  let step: OrderFulfilmentStep = 'start';
  setHandler(orderStepQuery, () => step);
  const started = await startOrder(input.orderId);
  if (started.status === 'COMPLETED' || started.status === 'FAILED') {
    step = 'done';
    return { orderId: input.orderId, status: started.status, failureCode: started.failureCode ?? undefined };
  }

  let failure: { code: string; message: string } | null = null;
  step = 'provision';
  try {
    await executeProvisioning(input.provisioning);
  } catch (err) {
    failure = failureOf(err);
  }
  if (!failure) {
    step = 'complete';
    try {
      await completeOrder(input.orderId);
      step = 'done';
      return { orderId: input.orderId, status: 'COMPLETED' };
    } catch (err) {
      failure = failureOf(err);
    }
  }
  step = 'compensate';
  await compensateProvisioning(input.provisioning);
  step = 'fail';
  await failOrder(input.orderId, failure.code, failure.message);
  step = 'done';
  return { orderId: input.orderId, status: 'FAILED', failureCode: failure.code };
}
