// An order's failure is what its customer reads (subscribers' `ProductOrder.failureMessage`). The order workflow's
// `failureOf` passed on the message of any failure: an error thrown by the provisioning driver (an address, a
// password in a connection string), Temporal's own text, with the error's class name as the failure code ("Error").
// Since patch `order-failure-internal-reference` only a coded refusal keeps its message; anything else fails the order
// PROVISIONING_FAILED "internal error (reference <uuid>)", the failure logged under that reference (once: the
// workflow's logger is silent on replay). Runs of the code before replay on the current code.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type InjectedSinks, type WorkflowBundle } from '@temporalio/worker';
import type { LoggerSinks } from '@temporalio/workflow';
import type { History } from '@temporalio/common/lib/proto-utils';
import { createOrderActivities, type OrderProvisioningRequest, type OrdersClient, type OrderState, type ProvisioningPort } from '../src/activities/orders';
import { DomainError } from '../src/errors';
import { orderWorkflowId, type OrderFulfilmentResult } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv, uniqueId } from './support/env';

const current = fileURLToPath(new URL('../src/workflows/order-fulfilment.ts', import.meta.url));
const before = fileURLToPath(new URL('./fixtures/order-fulfilment-before-internal-reference.ts', import.meta.url));
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: current, logger: new DefaultLogger('WARN') });
});
afterAll(async () => {
  await env?.teardown();
});

/** The service's order steps, keeping what each order was failed with. */
class Orders implements OrdersClient {
  readonly orders = new Map<string, OrderState & { failureMessage?: string }>();
  refuseCompletion: Error | null = null;
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
  async failOrder(orderId: string, failure: { code: string; message: string }) {
    const o = this.orders.get(orderId)!;
    if (o.status !== 'FAILED') Object.assign(o, { status: 'FAILED', failureCode: failure.code, failureMessage: failure.message });
    return { ...o };
  }
}

const LEAK = 'connect ECONNREFUSED 10.20.0.9:3868 (hlr://provisioner:s3cret@hlr-db)';

class Network implements ProvisioningPort {
  constructor(private readonly fail: () => never = () => { throw new Error(LEAK); }) {}
  async execute(): Promise<{ networkRef: string }> {
    this.fail();
  }
  async compensate() {}
}

const request = (orderId: string): OrderProvisioningRequest => ({ orderId, kind: 'NEW_LINE', lineId: 'lin_1', msisdn: '+4915123456789', iccid: null, imsi: null, planCode: 'POSTPAID_20GB', idempotencyKey: `order:${orderId}` });

interface Logged {
  level: string;
  message: string;
  attrs: Record<string, unknown>;
}

/** Runs one order on `workflowBundle`, the workflow's log lines captured; its result and history. */
async function run(workflowBundle: WorkflowBundle, orders: OrdersClient, network: ProvisioningPort) {
  const orderId = uniqueId('ord');
  const logged: Logged[] = [];
  const at = (level: string) => ({ fn: (_info: unknown, message: string, attrs?: Record<string, unknown>) => void logged.push({ level, message, attrs: attrs ?? {} }) });
  // The worker's workflow-log sink, under its public name (the worker registers it as its own `__temporal_logger`).
  const sinks: InjectedSinks<LoggerSinks> = { defaultWorkerLogger: { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  const taskQueue = uniqueId('orders');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, sinks, activities: createOrderActivities({ orders, provisioning: network }, { callTimeoutMs: 300 }) });
  const { result, history } = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('orderFulfilmentWorkflow', { workflowId: orderWorkflowId(orderId), taskQueue, args: [{ orderId, provisioning: request(orderId) }] });
    const result = (await handle.result()) as OrderFulfilmentResult;
    return { result, history: (await handle.fetchHistory()) as History };
  });
  return { orderId, result, history, logged };
}

const REFERENCE = /^internal error \(reference ([0-9a-f-]{36})\)$/;

describe('order workflow: what the order is failed with', () => {
  it('a provisioning error without a code: PROVISIONING_FAILED "internal error (reference …)", its text only in the log', async () => {
    const orders = new Orders();
    const { orderId, result, history, logged } = await run(bundle, orders, new Network());
    expect(result).toEqual({ orderId, status: 'FAILED', failureCode: 'PROVISIONING_FAILED' });
    const told = orders.orders.get(orderId)!;
    expect(told.failureCode).toBe('PROVISIONING_FAILED');
    expect(told.failureMessage).not.toContain('ECONNREFUSED');
    expect(told.failureMessage).toMatch(REFERENCE);
    const reference = REFERENCE.exec(told.failureMessage!)![1];
    const entries = logged.filter((l) => l.attrs.reference === reference);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ level: 'error', message: 'order failed by an internal error', attrs: { orderId, step: 'provision' } });
    expect(JSON.stringify(entries[0]!.attrs.failure)).toContain('ECONNREFUSED');
    // Replays on the same code: the same reference (deterministic), nothing logged again, no nondeterminism.
    await Worker.runReplayHistory({ workflowBundle: bundle }, history);
  });

  it("the network's coded refusal and subscribers' refusal keep their messages", async () => {
    const orders = new Orders();
    const refused = await run(bundle, orders, new Network(() => { throw new DomainError('PROVISIONING_SIM_UNKNOWN', 'SIM unknown to the HLR'); }));
    expect(orders.orders.get(refused.orderId)).toMatchObject({ failureCode: 'PROVISIONING_SIM_UNKNOWN', failureMessage: 'SIM unknown to the HLR' });
    expect(refused.logged.filter((l) => l.level === 'error')).toEqual([]);

    orders.refuseCompletion = new DomainError('LINE_ILLEGAL_TRANSITION', 'A TERMINATED line cannot activate');
    const conflict = await run(bundle, orders, new Network(() => ({ networkRef: 'hlr-1' }) as never));
    expect(orders.orders.get(conflict.orderId)).toMatchObject({ failureCode: 'LINE_ILLEGAL_TRANSITION', failureMessage: 'A TERMINATED line cannot activate' });
  });

  it('a run of the code before the patch replays on the current code, as it ran (the text passed on)', async () => {
    const old = await bundleWorkflowCode({ workflowsPath: before, logger: new DefaultLogger('WARN') });
    const orders = new Orders();
    const { orderId, history } = await run(old, orders, new Network());
    expect(orders.orders.get(orderId)).toMatchObject({ failureCode: 'Error', failureMessage: LEAK });
    await Worker.runReplayHistory({ workflowBundle: bundle }, history);
  });
});
