// Review: the order saga must not undo the network for an order the service may have completed.
//
// orderFulfilmentWorkflow gives completeOrder 10 attempts and then, on any error (including an
// outage or a lost answer: retryable failures, not a decision), compensates the provisioning and
// calls failOrder. When one of those attempts had committed (the service applied the order and
// the answer was lost) and subscribers then stays unreachable for the rest of the attempts, the
// network side is torn down for a line that billing holds ACTIVE, and failOrder is refused
// (a COMPLETED order cannot fail): the customer is billed for a line that does not work.
// completeOrder is idempotent (a completed order is returned as is), so an unknown outcome must be
// retried until subscribers gives a definite answer (as the recharge workflow does for the wallet
// credit); only a refusal (a coded, non-retryable decision) may lead to compensation.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderActivities, type OrderProvisioningRequest, type OrdersClient, type OrderState, type ProvisioningPort } from '../src/activities/orders';
import { DomainError } from '../src/errors';
import { orderFulfilmentWorkflow, orderWorkflowId } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv, uniqueId } from './support/env';

const workflowsPath = fileURLToPath(new URL('../src/workflows/order-fulfilment.ts', import.meta.url));
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
});
afterAll(async () => {
  await env?.teardown();
});

/** The subscribers service's order rules; its first completeOrder commits, then it goes dark for `darkFor` calls. */
class FlakyOrders implements OrdersClient {
  readonly orders = new Map<string, OrderState>();
  completeCalls = 0;
  constructor(private readonly darkFor: number) {}
  async startOrder(orderId: string) {
    const o = this.orders.get(orderId) ?? { orderId, status: 'ACKNOWLEDGED' as const };
    if (o.status === 'ACKNOWLEDGED') o.status = 'IN_PROGRESS';
    this.orders.set(orderId, o);
    return { ...o };
  }
  async completeOrder(orderId: string) {
    this.completeCalls += 1;
    const o = this.orders.get(orderId)!;
    if (this.completeCalls === 1) {
      o.status = 'COMPLETED'; // committed ...
      throw new DomainError('SUBSCRIBERS_TIMEOUT', 'subscribers did not answer in time', { retryable: true }); // ... answer lost
    }
    if (this.completeCalls <= this.darkFor) throw new DomainError('SUBSCRIBERS_UNAVAILABLE', 'subscribers answered 503 without data', { retryable: true });
    return { ...o }; // back: a completed order is returned as is
  }
  async failOrder(orderId: string, failure: { code: string }) {
    const o = this.orders.get(orderId)!;
    if (o.status === 'COMPLETED') throw new DomainError('ORDER_ILLEGAL_TRANSITION', 'An order that is COMPLETED cannot become FAILED'); // CONFLICT
    if (o.status !== 'FAILED') Object.assign(o, { status: 'FAILED', failureCode: failure.code });
    return { ...o };
  }
}

class Network implements ProvisioningPort {
  readonly applied = new Set<string>();
  readonly calls: string[] = [];
  async execute(req: OrderProvisioningRequest) {
    this.calls.push('execute');
    this.applied.add(req.msisdn);
    return { networkRef: `hlr-${req.msisdn}` };
  }
  async compensate(req: OrderProvisioningRequest) {
    this.calls.push('compensate');
    this.applied.delete(req.msisdn);
  }
}

describe('review3: order fulfilment when completeOrder’s outcome is unknown', () => {
  it('an order completed by the service (answer lost, then an outage) is not compensated on the network', async () => {
    const orderId = uniqueId('ord');
    // Committed on attempt 1, unreachable for the workflow's remaining 9 attempts, back afterwards.
    const orders = new FlakyOrders(10);
    const network = new Network();
    const taskQueue = uniqueId('orders');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createOrderActivities({ orders, provisioning: network }, { callTimeoutMs: 300 }) });
    const request: OrderProvisioningRequest = { orderId, kind: 'NEW_LINE', lineId: 'lin_1', msisdn: '+4915123456700', iccid: null, imsi: null, planCode: 'POSTPAID_20GB', idempotencyKey: `order:${orderId}` };
    const outcome = await worker.runUntil(
      env.client.workflow.execute(orderFulfilmentWorkflow, { workflowId: orderWorkflowId(orderId), taskQueue, args: [{ orderId, provisioning: request }] }).then(
        (r) => ({ result: r, error: null as string | null }),
        (e: Error) => ({ result: null, error: `${e.message}: ${(e.cause as Error | undefined)?.message ?? ''}` }),
      ),
    );
    expect(orders.orders.get(orderId)?.status).toBe('COMPLETED'); // the service did apply it
    // Correct: the line is ACTIVE in billing, so it must stay provisioned and the workflow end COMPLETED.
    expect(
      { networkCalls: network.calls, provisioned: network.applied.has(request.msisdn), outcome },
      'an order the service completed must not be compensated on the network; the workflow must keep asking completeOrder (idempotent) until it answers',
    ).toEqual({ networkCalls: ['execute'], provisioned: true, outcome: { result: { orderId, status: 'COMPLETED' }, error: null } });
  });
});
