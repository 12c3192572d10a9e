// An UNAUTHENTICATED answer to an order step says the worker was not recognised (its token
// expired, the gateway restarted with other keys), not that subscribers refused the order. Before,
// GraphqlOrdersClient made it a non-retryable failure: completeOrder gave up, the order was failed
// and the network undone, although the line was provisioned and subscribers had refused nothing.
// Now it is retried (backing off), with a fresh credential when the client has a source for one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createOrderActivities, GraphqlOrdersClient } from '../src/activities/orders';
import { orderWorkflowId } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real subscribers service (test files only).
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';
import { TemporalOrderDispatcher } from '../../services/subscribers/src/ports/temporal-order-dispatcher';

const workflowsPath = fileURLToPath(new URL('../src/workflows/order-fulfilment.ts', import.meta.url));
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
const sandbox = new SandboxProvisioning();
const taskQueue = uniqueId('orders-unauth');

/**
 * A gateway in front of subscribers that answers the first `refuse` completeOrder calls as the
 * real gateway answers an expired token (HTTP 401, UNAUTHENTICATED) and forwards everything else.
 */
async function gateway(refuse: number): Promise<{ url: string; completeCalls: () => number; close(): Promise<void> }> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = (status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      if (body.includes('completeOrder') && ++calls <= refuse) {
        reply(401, JSON.stringify({ errors: [{ message: 'Token has expired', extensions: { code: 'UNAUTHENTICATED' } }] }));
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>;
      fetch(subscribers.url, { method: 'POST', headers, body }).then(
        async (r) => reply(r.status, await r.text()),
        (e: Error) => reply(502, JSON.stringify({ message: e.message })),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, completeCalls: () => calls, close: () => new Promise((r) => server.close(() => r())) };
}

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  const def = createSubscribersService({
    catalog: { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null },
    provisioning: sandbox,
    dispatcher: new TemporalOrderDispatcher(env.client, taskQueue),
    sweepIntervalMs: 0,
  });
  subscribers = await startServiceForTest(def, { clock: new ManualClock(new Date('2026-11-16T10:00:00Z')) });
});
afterAll(async () => {
  await subscribers?.close();
  await env?.teardown();
});

async function ok(q: string, v: Record<string, unknown>) {
  const r = await subscribers.request(q, v);
  if (r.errors) throw new Error(r.errors[0]!.message);
  return r.data;
}

/** A new line through addLine: its order is ACKNOWLEDGED and its workflow started on `taskQueue`. */
async function placeNewLine(msisdn: string): Promise<{ lineId: string; orderId: string }> {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Token Tom", kind: INDIVIDUAL }) { customer { id } } }`, {})).createCustomer.customer.id;
  const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
  const placed = (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } order { id status } } }`, { a: accountId, m: msisdn })).addLine;
  expect(placed.order.status).toBe('ACKNOWLEDGED');
  return { lineId: placed.line.id, orderId: placed.order.id };
}

async function fulfil(orders: GraphqlOrdersClient, orderId: string) {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createOrderActivities({ orders, provisioning: sandbox }) });
  return worker.runUntil(env.client.workflow.getHandle(orderWorkflowId(orderId)).result());
}

async function lineState(lineId: string) {
  return (await ok(`query($id: ID!) { line(id: $id) { status orders { status failureCode } } }`, { id: lineId })).line;
}

describe('order fulfilment when the worker is not recognised (UNAUTHENTICATED)', () => {
  it('a completeOrder answered UNAUTHENTICATED (token expired, gateway restart) is retried, not failed and compensated', async () => {
    const msisdn = '+4915123999001';
    const { lineId, orderId } = await placeNewLine(msisdn);
    const gw = await gateway(2);
    try {
      const result = await fulfil(new GraphqlOrdersClient(gw.url, callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET)), orderId);
      expect(result).toEqual({ orderId, status: 'COMPLETED' });
      expect(gw.completeCalls()).toBe(3);
    } finally {
      await gw.close();
    }
    expect(await lineState(lineId)).toEqual({ status: 'ACTIVE', orders: [{ status: 'COMPLETED', failureCode: null }] });
    expect(sandbox.calls.filter((c) => c.msisdn === msisdn).map((c) => c.op)).toEqual(['execute']);
    expect(sandbox.network.get(msisdn)?.status).toBe('ACTIVE');
  });

  it('with a credential source, each attempt asks it for a fresh credential', async () => {
    const msisdn = '+4915123999002';
    const { lineId, orderId } = await placeNewLine(msisdn);
    // Signed with a key subscribers no longer accepts (rotated), as a stale token would be.
    const stale = callerHeaders(SYSTEM_CALLER, 'rotated-away-secret');
    const fresh = callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET);
    const handedOut: string[] = [];
    // Call 1 (startOrder) fresh, call 2 (completeOrder) stale, then fresh again.
    const credentials = async () => {
      const pick = handedOut.length === 1 ? 'stale' : 'fresh';
      handedOut.push(pick);
      return pick === 'stale' ? stale : fresh;
    };
    const result = await fulfil(new GraphqlOrdersClient(subscribers.url, credentials), orderId);
    expect(result).toEqual({ orderId, status: 'COMPLETED' });
    expect(handedOut).toEqual(['fresh', 'stale', 'fresh']);
    expect(await lineState(lineId)).toMatchObject({ status: 'ACTIVE' });
    expect(sandbox.calls.filter((c) => c.msisdn === msisdn).map((c) => c.op)).toEqual(['execute']);
  });
});
