// Order fulfilment (subscribers' product orders: new line, plan change, suspend, resume, bar,
// terminate, SIM replacement) as a saga:
//   startOrder (ACKNOWLEDGED → IN_PROGRESS)
//   → executeProvisioning on the network (retried; a hung call times out and is retried)
//   → completeOrder: the service applies the effect (line status, subscriptions, one-off charges)
// completeOrder is idempotent (a completed order is returned as is) and an attempt whose answer was
// lost may have committed, so an outage is retried until the service answers; only its refusal
// (e.g. the line changed in the meantime) fails the order. If provisioning fails for good, or the
// service refuses to complete, failOrder records why (→ FAILED) and then compensateProvisioning
// undoes the network side, which failOrder (networkUndone) then reports to the service. Failing the order first settles it: once FAILED it can no longer
// complete, and an order the service did complete refuses to fail (ORDER_ILLEGAL_TRANSITION): the
// line is live in billing, so the network keeps it and the workflow ends COMPLETED.
// The workflow id is `order-${orderId}`, so an order can only ever be fulfilled once; every step is
// idempotent on the service and the network (key `order:${orderId}`).
import { ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, log, patched, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { OrderActivities, OrderProvisioningRequest } from '../activities/orders';
import { orderInputProblems } from '../domain/start-inputs';
import { ErrorCode } from '../errors';

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

// Decisions of the service (CONFLICT, NOT_FOUND...) come back non-retryable; outages retry without
// limit: the dispatcher starts one workflow per order id, ever (REJECT_DUPLICATE), so a run that gave
// up on an outage (10 attempts were ~4 minutes of a subscribers or gateway restart) left the order
// ACKNOWLEDGED for good and its line never provisioned. Nothing has moved yet, so waiting is safe.
const { startOrder } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Completion: the network side is done by now, and an attempt whose answer was lost (timeout, 5xx,
// restart) may have committed, so giving up would undo a line the service holds live. Transient
// failures are retried without limit, backing off to a minute (the step is idempotent); only a
// non-retryable refusal ends it. (As the recharge workflow retries the wallet credit.)
const { completeOrder } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
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

// Only for runs that compensated before failing the order (see FAIL_ORDER_BEFORE_COMPENSATING): a
// network undone for an order the service had completed is provisioned again, without limit.
const { executeProvisioning: reprovision } = proxyActivities<OrderActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Runs started before failOrder moved in front of the compensation may already have scheduled the
 * compensation (no marker in their history); they keep the old order. Once every such run has
 * ended, this can become `deprecatePatch`, and later go.
 */
export const FAIL_ORDER_BEFORE_COMPENSATING = 'order-fail-before-compensating';

/** Runs from before it did not report the compensation to the service (its orders keep their numbers quarantined). */
export const REPORT_NETWORK_UNDONE = 'order-report-network-undone';

/**
 * The input is checked before the first step: one started by hand without a usable `provisioning`
 * moved the order IN_PROGRESS, then failed the network call on it and retried the compensation of
 * nothing for ever. Now it fails at once (INVALID_ORDER_INPUT, naming the fields), the order still
 * ACKNOWLEDGED, which subscribers' sweep then fails (ORDER_FULFILMENT_ENDED). Runs from before replay
 * without the check.
 */
export const ORDER_INPUT_CHECKED = 'order-input-checked';

/**
 * The failure an order is failed with is what its customer reads (`ProductOrder.failureMessage`). Runs from before
 * passed on the message of any failure (a provisioning driver's, an error thrown in an activity, Temporal's own);
 * now only a coded refusal keeps its message (see `customerFailureOf`), anything else is "internal error (reference
 * …)" and logged under that reference. Runs from before replay without it.
 */
export const ORDER_FAILURE_INTERNAL_REFERENCE = 'order-failure-internal-reference';

/** failOrder's refusal for an order that is COMPLETED (subscribers' only illegal move to FAILED). */
const ORDER_ILLEGAL_TRANSITION = 'ORDER_ILLEGAL_TRANSITION';

/** A compensation runs to its end even when the workflow is cancelled (as in the recharge saga). */
const compensating = <T>(step: () => Promise<T>): Promise<T> => CancellationScope.nonCancellable(step);

function failureOf(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'ORDER_FAILED', message: cause.message };
  if (cause && typeof cause === 'object' && 'message' in cause) {
    const name = (cause as { name?: string }).name;
    return { code: name === 'TimeoutFailure' ? 'PROVISIONING_TIMEOUT' : 'PROVISIONING_FAILED', message: String((cause as { message: unknown }).message) };
  }
  return { code: 'ORDER_FAILED', message: String(err) };
}

/**
 * A code a DomainError or a deliberate ApplicationFailure carries (PROVISIONING_SIM_UNKNOWN, CONFLICT…); an error
 * thrown by an activity without one reaches the workflow as an ApplicationFailure typed by its class name (Error,
 * TypeError, an ORM's …Exception).
 */
const CODED = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/**
 * `failureOf` as the customer may read it (patch ORDER_FAILURE_INTERNAL_REFERENCE): a coded refusal (the network's,
 * subscribers') keeps its message, written for the customer; a provisioning call that timed out says so; anything
 * else is "internal error (reference <uuid>)", the failure logged under that reference for staff. The reference is
 * the workflow's deterministic uuid4 (the same on replay), and the workflow's logger is silent on replay: logged once.
 */
function customerFailureOf(err: unknown, orderId: string, step: OrderFulfilmentStep): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type && CODED.test(cause.type)) return { code: cause.type, message: cause.message };
  const failure = failureOf(err);
  if (failure.code === 'PROVISIONING_TIMEOUT') return { code: failure.code, message: 'The provisioning system did not answer in time' };
  const reference = uuid4();
  log.error('order failed by an internal error', { orderId, step, reference, failure: { type: cause instanceof ApplicationFailure ? cause.type : (cause as { name?: unknown } | null)?.name, message: failure.message } });
  return { code: failure.code === 'ORDER_FAILED' ? 'ORDER_FAILED' : 'PROVISIONING_FAILED', message: `internal error (reference ${reference})` };
}

export async function orderFulfilmentWorkflow(input: OrderFulfilmentInput): Promise<OrderFulfilmentResult> {
  let step: OrderFulfilmentStep = 'start';
  setHandler(orderStepQuery, () => step);
  const problems = orderInputProblems(input);
  if (problems.length > 0 && patched(ORDER_INPUT_CHECKED)) {
    throw ApplicationFailure.nonRetryable(`invalid order fulfilment: ${problems.join('; ')}`, ErrorCode.INVALID_ORDER_INPUT, { problems });
  }
  const started = await startOrder(input.orderId);
  if (started.status === 'COMPLETED' || started.status === 'FAILED') {
    step = 'done';
    return { orderId: input.orderId, status: started.status, failureCode: started.failureCode ?? undefined };
  }

  /** What the order is failed with: customer-safe from the patch on. */
  const told = (err: unknown) => (patched(ORDER_FAILURE_INTERNAL_REFERENCE) ? customerFailureOf(err, input.orderId, step) : failureOf(err));
  let failure: { code: string; message: string } | null = null;
  step = 'provision';
  try {
    await executeProvisioning(input.provisioning);
  } catch (err) {
    failure = told(err);
  }
  if (!failure) {
    step = 'complete';
    try {
      await completeOrder(input.orderId);
      step = 'done';
      return { orderId: input.orderId, status: 'COMPLETED' };
    } catch (err) {
      // A refusal (outages are retried without limit), or a run whose bounded retries predate that.
      failure = told(err);
    }
  }
  const completed = (): OrderFulfilmentResult => {
    log.warn('the service had completed the order (an answer lost); the line stays provisioned', { orderId: input.orderId, failure });
    step = 'done';
    return { orderId: input.orderId, status: 'COMPLETED' };
  };

  if (!patched(FAIL_ORDER_BEFORE_COMPENSATING)) {
    // A run from before the patch that had already scheduled the compensation (replay): the old
    // order of steps; if the order then turns out COMPLETED, the network is provisioned again.
    step = 'compensate';
    await compensating(() => compensateProvisioning(input.provisioning));
    step = 'fail';
    try {
      await compensating(() => failOrder(input.orderId, failure.code, failure.message));
    } catch (err) {
      if (failureOf(err).code !== ORDER_ILLEGAL_TRANSITION) throw err;
      step = 'provision';
      await compensating(() => reprovision(input.provisioning));
      return completed();
    }
    step = 'done';
    return { orderId: input.orderId, status: 'FAILED', failureCode: failure.code };
  }

  // Fail the order first: once FAILED no completion can land; an order the service completed
  // refuses to fail, and then there is nothing to compensate.
  step = 'fail';
  let failOrderRefusal: unknown = null;
  try {
    await compensating(() => failOrder(input.orderId, failure.code, failure.message));
  } catch (err) {
    if (failureOf(err).code === ORDER_ILLEGAL_TRANSITION) return completed();
    failOrderRefusal = err; // some other refusal (e.g. NOT_FOUND): still undo the network, then fail
  }
  step = 'compensate';
  await compensating(() => compensateProvisioning(input.provisioning));
  if (failOrderRefusal) throw failOrderRefusal;
  // Tell the service the network confirmed the undo: until then a failed activation may have left
  // the number live, and the service holds it back from other customers.
  if (patched(REPORT_NETWORK_UNDONE)) await compensating(() => failOrder(input.orderId, failure.code, failure.message, true));
  step = 'done';
  return { orderId: input.orderId, status: 'FAILED', failureCode: failure.code };
}
