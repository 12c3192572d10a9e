import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createOrderActivities, GraphqlOrdersClient, type OrderProvisioningRequest, type OrdersClient, type OrderState, type ProvisioningPort } from '../src/activities/orders';
import { DomainError } from '../src/errors';
import { orderFulfilmentWorkflow, orderWorkflowId } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real subscribers service, for the end-to-end case (test files only).
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';
import { TemporalOrderDispatcher } from '../../services/subscribers/src/ports/temporal-order-dispatcher';

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

/** An order store with the service's rules: steps are idempotent, completion may be refused. */
class FakeOrders implements OrdersClient {
  readonly orders = new Map<string, OrderState>();
  refuseCompletion: DomainError | null = null;
  async startOrder(orderId: string) {
    const o = this.orders.get(orderId) ?? { orderId, status: 'ACKNOWLEDGED' as const };
    if (o.status === 'ACKNOWLEDGED') o.status = 'IN_PROGRESS';
    this.orders.set(orderId, o);
    return { ...o };
  }
  async completeOrder(orderId: string) {
    if (this.refuseCompletion) throw this.refuseCompletion;
    const o = this.orders.get(orderId)!;
    o.status = 'COMPLETED';
    return { ...o };
  }
  /** Orders the workflow reported undone on the network (failOrder `networkUndone`). */
  readonly undone: string[] = [];
  async failOrder(orderId: string, failure: { code: string; networkUndone?: boolean }) {
    const o = this.orders.get(orderId)!;
    if (failure.networkUndone) this.undone.push(orderId);
    if (o.status !== 'FAILED') Object.assign(o, { status: 'FAILED', failureCode: failure.code });
    return { ...o };
  }
}

class FakeNetwork implements ProvisioningPort {
  mode: 'ok' | 'reject' | 'hang' = 'ok';
  readonly applied = new Set<string>();
  readonly calls: string[] = [];
  async execute(req: OrderProvisioningRequest, opts: { signal?: AbortSignal } = {}) {
    this.calls.push('execute');
    if (this.mode === 'reject') throw new DomainError('PROVISIONING_SIM_UNKNOWN', 'SIM unknown to the HLR');
    if (this.mode === 'hang') await new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    this.applied.add(req.msisdn);
    return { networkRef: `hlr-${req.msisdn}` };
  }
  async compensate(req: OrderProvisioningRequest) {
    this.calls.push('compensate');
    this.applied.delete(req.msisdn);
  }
}

const request = (orderId: string): OrderProvisioningRequest => ({ orderId, kind: 'NEW_LINE', lineId: 'lin_1', msisdn: '+4915123456789', iccid: null, imsi: null, planCode: 'POSTPAID_20GB', idempotencyKey: `order:${orderId}` });

async function run(orders: OrdersClient, network: ProvisioningPort, orderId = uniqueId('ord')) {
  const taskQueue = uniqueId('orders');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createOrderActivities({ orders, provisioning: network }, { callTimeoutMs: 300 }) });
  return worker.runUntil(env.client.workflow.execute(orderFulfilmentWorkflow, { workflowId: orderWorkflowId(orderId), taskQueue, args: [{ orderId, provisioning: request(orderId) }] }));
}

describe('order fulfilment workflow', () => {
  it('provisions, then completes', async () => {
    const orders = new FakeOrders();
    const network = new FakeNetwork();
    const result = await run(orders, network, 'ord_ok');
    expect(result).toEqual({ orderId: 'ord_ok', status: 'COMPLETED' });
    expect(orders.orders.get('ord_ok')?.status).toBe('COMPLETED');
    expect(network.calls).toEqual(['execute']);
  });

  it('a refused provisioning is not retried: compensate, then FAILED', async () => {
    const orders = new FakeOrders();
    const network = new FakeNetwork();
    network.mode = 'reject';
    const result = await run(orders, network, 'ord_rej');
    expect(result).toEqual({ orderId: 'ord_rej', status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    expect(network.calls).toEqual(['execute', 'compensate']);
    expect(orders.orders.get('ord_rej')).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
  });

  it('when the service refuses to complete, the network side is undone', async () => {
    const orders = new FakeOrders();
    orders.refuseCompletion = new DomainError('LINE_ILLEGAL_TRANSITION', 'A TERMINATED line cannot activate');
    const network = new FakeNetwork();
    const result = await run(orders, network, 'ord_conf');
    expect(result).toMatchObject({ status: 'FAILED', failureCode: 'LINE_ILLEGAL_TRANSITION' });
    expect(network.calls).toEqual(['execute', 'compensate']);
    expect(network.applied.size).toBe(0);
    // Told once the compensation went through: the service holds the number back until then.
    expect(orders.undone).toEqual(['ord_conf']);
  });

  it('a hung network is timed out and retried three times, then compensated', async () => {
    const orders = new FakeOrders();
    const network = new FakeNetwork();
    network.mode = 'hang';
    const result = await run(orders, network, 'ord_hang');
    expect(result).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_TIMEOUT' });
    expect(network.calls).toEqual(['execute', 'execute', 'execute', 'compensate']);
  });
});

describe('order fulfilment input', () => {
  // Started by hand without a usable provisioning request: the order was moved IN_PROGRESS, the
  // network call failed on nothing, and the compensation of nothing was retried for ever. Now it
  // fails at once, the order untouched (subscribers' sweep then fails it, order-workflow-ended.test.ts).
  it.each([
    ['no provisioning', (orderId: string) => ({ orderId }), ['provisioning']],
    ['another order\'s provisioning, no number', (orderId: string) => ({ orderId, provisioning: { ...request('ord_other'), msisdn: '' } }), ['provisioning.orderId', 'provisioning.msisdn']],
  ])('%s: INVALID_ORDER_INPUT at once, naming the field; the order and the network untouched', async (_name, input, fields) => {
    const orders = new FakeOrders();
    const network = new FakeNetwork();
    const orderId = uniqueId('ord_bad');
    const taskQueue = uniqueId('orders');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createOrderActivities({ orders, provisioning: network }, { callTimeoutMs: 300 }) });
    const failure = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('orderFulfilmentWorkflow', { workflowId: orderWorkflowId(orderId), taskQueue, args: [input(orderId)] });
      return Promise.race([
        handle.result().then(
          () => 'COMPLETED',
          (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
        ),
        new Promise((r) => setTimeout(() => r('still running'), 5_000)),
      ]);
    });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'INVALID_ORDER_INPUT', nonRetryable: true });
    for (const field of fields) expect((failure as ApplicationFailure).message).toContain(field);
    expect(orders.orders.size).toBe(0);
    expect(network.calls).toEqual([]);
  });
});

describe('order fulfilment through the real subscribers service', () => {
  let subscribers: TestService;
  const sandbox = new SandboxProvisioning();
  beforeAll(async () => {
    const def = createSubscribersService({
      catalog: { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null },
      provisioning: sandbox,
      dispatcher: new TemporalOrderDispatcher(env.client, 'subscribers-orders'),
      sweepIntervalMs: 0,
    });
    subscribers = await startServiceForTest(def, { clock: new ManualClock(new Date('2026-11-16T10:00:00Z')) });
  });
  afterAll(async () => {
    await subscribers?.close();
  });

  it('addLine returns ACKNOWLEDGED, the workflow activates the line', async () => {
    const ok = async (q: string, v: Record<string, unknown>) => {
      const r = await subscribers.request(q, v);
      if (r.errors) throw new Error(r.errors[0]!.message);
      return r.data;
    };
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Temporal Tess", kind: INDIVIDUAL }) { customer { id } } }`, {})).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: PREPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const placed = (await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123888001" }) { line { id status } order { id status } } }`, { a: accountId })).addLine;
    expect(placed).toMatchObject({ line: { status: 'PENDING' }, order: { status: 'ACKNOWLEDGED' } });

    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'subscribers-orders',
      workflowBundle: bundle,
      activities: createOrderActivities({ orders: new GraphqlOrdersClient(subscribers.url, callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET)), provisioning: sandbox }),
    });
    const result = await worker.runUntil(env.client.workflow.getHandle(orderWorkflowId(placed.order.id)).result());
    expect(result).toEqual({ orderId: placed.order.id, status: 'COMPLETED' });
    const after = await ok(`query($id: ID!) { line(id: $id) { status orders { status } } }`, { id: placed.line.id });
    expect(after.line).toEqual({ status: 'ACTIVE', orders: [{ status: 'COMPLETED' }] });
    expect(sandbox.network.get('+4915123888001')?.status).toBe('ACTIVE');
    // The order steps are the workflow's alone.
    const denied = await subscribers.request(`mutation($i: OrderStepInput!) { startOrder(input: $i) { order { id } } }`, { i: { orderId: placed.order.id } }, { role: 'CUSTOMER', subject: 'x', scopes: [] });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('an activation the network applied and that then failed is undone and reported: the cancelled line releases its number', async () => {
    const ok = async (q: string, v: Record<string, unknown>) => {
      const r = await subscribers.request(q, v);
      if (r.errors) throw new Error(r.errors[0]!.message);
      return r.data;
    };
    const msisdn = '+4915123888002';
    const accountOf = async (name: string) => {
      const customerId = (await ok(`mutation($n: String!) { createCustomer(input: { name: $n, kind: INDIVIDUAL }) { customer { id } } }`, { n: name })).createCustomer.customer.id;
      return (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: PREPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    };
    const fulfil = async (orderId: string) => {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: 'subscribers-orders',
        workflowBundle: bundle,
        activities: createOrderActivities({ orders: new GraphqlOrdersClient(subscribers.url, callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET)), provisioning: sandbox }),
      });
      return worker.runUntil(env.client.workflow.getHandle(orderWorkflowId(orderId)).result());
    };
    sandbox.behave('NEW_LINE', msisdn, { mode: 'fail-after-apply' });
    const placed = (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } order { id } } }`, { a: await accountOf('Half Activated'), m: msisdn })).addLine;
    const failed = await fulfil(placed.order.id);
    sandbox.behave('NEW_LINE', msisdn, null);
    expect(failed).toMatchObject({ status: 'FAILED' });
    expect(sandbox.network.has(msisdn)).toBe(false);
    const cancelled = (await ok(`mutation($l: ID!) { terminateLine(input: { lineId: $l }) { order { id } } }`, { l: placed.line.id })).terminateLine;
    expect(await fulfil(cancelled.order.id)).toMatchObject({ status: 'COMPLETED' });
    const next = await subscribers.request<any>(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { order { id } } }`, { a: await accountOf('Next Holder'), m: msisdn });
    expect(next.errors).toBeUndefined();
    expect(await fulfil(next.data.addLine.order.id)).toMatchObject({ status: 'COMPLETED' });
  });
});

describe('order fulfilment through a subscribers outage', () => {
  it('an outage longer than a few minutes before the order started only delays it: the order is not left ACKNOWLEDGED for good', async () => {
    // Subscribers (or the gateway in front of it) is down for a deploy: the workflow's first step cannot
    // reach it for a while. The order's dispatcher never starts a second workflow for the order id
    // (REJECT_DUPLICATE), so a run that gives up here leaves the order ACKNOWLEDGED and the line unprovisioned.
    const orders = new FakeOrders();
    let outageCalls = 15;
    const start = orders.startOrder.bind(orders);
    orders.startOrder = async (orderId: string) => {
      if (outageCalls-- > 0) throw new DomainError('SUBSCRIBERS_UNAVAILABLE', 'subscribers answered 503 without data', { retryable: true });
      return start(orderId);
    };
    const network = new FakeNetwork();
    const result = await run(orders, network, uniqueId('ord_outage'));
    expect(result).toMatchObject({ status: 'COMPLETED' });
    expect(network.calls).toEqual(['execute']);
  });
});
