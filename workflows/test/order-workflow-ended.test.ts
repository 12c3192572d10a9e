import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createOrderActivities, GraphqlOrdersClient, type OrderProvisioningRequest, type ProvisioningPort } from '../src/activities/orders';
import { orderWorkflowId } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv } from './support/env';
// The real subscribers service (test files only).
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';
import { TemporalOrderDispatcher } from '../../services/subscribers/src/ports/temporal-order-dispatcher';

/**
 * An order whose Temporal workflow ended without settling it (terminated by an operator, failed on
 * a step refused for good): the order id can never get another workflow (REJECT_DUPLICATE), so the
 * order was left ACKNOWLEDGED / IN_PROGRESS for ever, with nobody told. The re-dispatch sweep now
 * finds the ended run and fails the order (FAILED, ORDER_FULFILMENT_ENDED, the event as for any
 * failure); its number is held back as the failure path holds it: released at once only when the
 * network was never asked (still ACKNOWLEDGED), else held until the network confirms the undo.
 */
const workflowsPath = fileURLToPath(new URL('../src/workflows/order-fulfilment.ts', import.meta.url));
const TASK_QUEUE = 'subscribers-orders-ended';
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
let clock: ManualClock;
const sandbox = new SandboxProvisioning();

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
  const def = createSubscribersService({
    catalog: { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null },
    provisioning: sandbox,
    wallets: null,
    dispatcher: new TemporalOrderDispatcher(env.client, TASK_QUEUE),
    // The sweep runs every 100 ms of real time; the service's clock is moved past its staleness.
    sweepIntervalMs: 100,
    notifications: false,
  });
  subscribers = await startServiceForTest(def, { clock });
}, 60_000);
afterAll(async () => {
  await subscribers?.close();
  await env?.teardown();
});

async function ok(q: string, v: Record<string, unknown> = {}) {
  const r = await subscribers.request<any>(q, v);
  if (r.errors) throw new Error(r.errors[0]!.message);
  return r.data;
}
async function accountOf(name: string): Promise<string> {
  const customerId = (await ok(`mutation($n: String!) { createCustomer(input: { name: $n, kind: INDIVIDUAL }) { customer { id } } }`, { n: name })).createCustomer.customer.id;
  return (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: PREPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
}
async function addLine(accountId: string, msisdn: string): Promise<{ line: { id: string }; order: { id: string; status: string } }> {
  return (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } order { id status } } }`, { a: accountId, m: msisdn })).addLine;
}
async function orderOf(lineId: string, orderId: string) {
  const d = await ok(`query($id: ID!) { line(id: $id) { status orders { id status failureCode failureMessage } } }`, { id: lineId });
  return { lineStatus: d.line.status as string, order: (d.line.orders as { id: string; status: string; failureCode: string | null; failureMessage: string | null }[]).find((o) => o.id === orderId)! };
}
async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return subscribers.runtime.orm.em.fork().getConnection().execute(text, params) as Promise<T[]>;
}
/** The order's state events in the outbox (what goes out to the other services). */
async function orderEvents(orderId: string): Promise<string[]> {
  const rows = await sql<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.productorder.statechanged' and payload like ? order by seq`, [`%${orderId}%`]);
  return rows.map((r) => {
    const e = JSON.parse(r.payload) as { data: { status: string; failureCode: string | null } };
    return `${e.data.status}${e.data.failureCode ? `:${e.data.failureCode}` : ''}`;
  });
}
/** Moves the service's clock past the sweep's staleness and waits (real time) for the order to leave `from`. */
async function sweptFrom(lineId: string, orderId: string, from: string) {
  clock.advance(3_600_000);
  const until = Date.now() + 15_000;
  let seen = await orderOf(lineId, orderId);
  while (seen.order.status === from && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await orderOf(lineId, orderId);
  }
  return seen;
}
function worker(activities: ReturnType<typeof createOrderActivities>) {
  return Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle: bundle, activities });
}
const systemOrders = () => new GraphqlOrdersClient(subscribers.url, callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET));
/** Runs the real workflow for `orderId` to its end. */
async function fulfil(orderId: string) {
  const w = await worker(createOrderActivities({ orders: systemOrders(), provisioning: sandbox }));
  return w.runUntil(env.client.workflow.getHandle(orderWorkflowId(orderId)).result());
}
/** Terminates the line (its TERMINATE order fulfilled), then offers its number to another customer. */
async function cancelAndOfferNumber(lineId: string, msisdn: string) {
  const cancelled = (await ok(`mutation($l: ID!) { terminateLine(input: { lineId: $l }) { order { id } } }`, { l: lineId })).terminateLine;
  expect(await fulfil(cancelled.order.id)).toMatchObject({ status: 'COMPLETED' });
  return subscribers.request<any>(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { order { id } } }`, { a: await accountOf('Next Holder'), m: msisdn });
}

describe('an order whose workflow ended without settling it', () => {
  it('terminated before its first step: the sweep fails the order, tells the other services, and the number is free once the line is cancelled', async () => {
    const msisdn = '+4915123777001';
    const placed = await addLine(await accountOf('Terminated Early'), msisdn);
    expect(placed.order.status).toBe('ACKNOWLEDGED');
    // No worker on the queue yet; an operator terminates the run.
    await env.client.workflow.getHandle(orderWorkflowId(placed.order.id)).terminate('stuck order cleaned up by ops');

    const seen = await sweptFrom(placed.line.id, placed.order.id, 'ACKNOWLEDGED');
    expect(seen.order).toMatchObject({ status: 'FAILED', failureCode: 'ORDER_FULFILMENT_ENDED' });
    expect(seen.order.failureMessage).toMatch(/TERMINATED/);
    expect(seen.lineStatus).toBe('PENDING');
    expect(await orderEvents(placed.order.id)).toEqual(['ACKNOWLEDGED', 'FAILED:ORDER_FULFILMENT_ENDED']);
    // The network was never asked (the order never started): nothing to undo, the number is not held back.
    const [row] = await sql<{ network_undone_at: Date | null }>(`select network_undone_at from product_order where id = ?`, [placed.order.id]);
    expect(row!.network_undone_at).not.toBeNull();
    const next = await cancelAndOfferNumber(placed.line.id, msisdn);
    expect(next.errors).toBeUndefined();
  });

  it('failed for good on a step refused every time (the worker not allowed to start orders): the order is FAILED, not ACKNOWLEDGED for ever', async () => {
    const placed = await addLine(await accountOf('Refused Start'), '+4915123777002');
    const refused = new GraphqlOrdersClient(subscribers.url, callerHeaders({ role: 'CUSTOMER', subject: 'not-the-worker', scopes: [] }, DEV_INTERNAL_SECRET));
    const w = await worker(createOrderActivities({ orders: refused, provisioning: sandbox }));
    await expect(w.runUntil(env.client.workflow.getHandle(orderWorkflowId(placed.order.id)).result())).rejects.toThrow();
    expect((await orderOf(placed.line.id, placed.order.id)).order.status).toBe('ACKNOWLEDGED');

    const seen = await sweptFrom(placed.line.id, placed.order.id, 'ACKNOWLEDGED');
    expect(seen.order).toMatchObject({ status: 'FAILED', failureCode: 'ORDER_FULFILMENT_ENDED' });
    expect(seen.order.failureMessage).toMatch(/FAILED/);
    expect(await orderEvents(placed.order.id)).toEqual(['ACKNOWLEDGED', 'FAILED:ORDER_FULFILMENT_ENDED']);
  });

  it('terminated while the network was being asked: FAILED, and the number is held back as for a failed activation the network may still have on', async () => {
    const msisdn = '+4915123777003';
    const placed = await addLine(await accountOf('Terminated Midway'), msisdn);
    let asked!: () => void;
    const networkAsked = new Promise<void>((resolve) => (asked = resolve));
    // The network applies the activation, then its answer never comes back (until the run is gone).
    const midway: ProvisioningPort = {
      async execute(req: OrderProvisioningRequest, opts) {
        await sandbox.execute(req as never);
        asked();
        return new Promise((_, reject) => opts?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      },
      compensate: async (req: OrderProvisioningRequest) => sandbox.compensate(req as never),
    };
    const w = await worker(createOrderActivities({ orders: systemOrders(), provisioning: midway }, { callTimeoutMs: 60_000 }));
    await w.runUntil(async () => {
      await networkAsked;
      await env.client.workflow.getHandle(orderWorkflowId(placed.order.id)).terminate('operator ended it');
    });
    expect((await orderOf(placed.line.id, placed.order.id)).order.status).toBe('IN_PROGRESS');
    expect(sandbox.network.get(msisdn)?.status).toBe('ACTIVE');

    const seen = await sweptFrom(placed.line.id, placed.order.id, 'IN_PROGRESS');
    expect(seen.order).toMatchObject({ status: 'FAILED', failureCode: 'ORDER_FULFILMENT_ENDED' });
    expect(await orderEvents(placed.order.id)).toEqual(['ACKNOWLEDGED', 'IN_PROGRESS', 'FAILED:ORDER_FULFILMENT_ENDED']);
    const [row] = await sql<{ network_undone_at: Date | null }>(`select network_undone_at from product_order where id = ?`, [placed.order.id]);
    expect(row!.network_undone_at).toBeNull();
    const next = await cancelAndOfferNumber(placed.line.id, msisdn);
    expect(next.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED' });
  });
});
