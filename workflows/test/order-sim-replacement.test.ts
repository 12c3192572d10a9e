import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { DomainError as ServiceError } from '@ledgerline/contracts';
import { createOrderActivities, GraphqlOrdersClient, type ProvisioningPort } from '../src/activities/orders';
import { DomainError } from '../src/errors';
import { orderWorkflowId } from '../src/workflows/order-fulfilment';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from './support/env';
// The real subscribers service and its plan files (test files only).
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';
import { TemporalOrderDispatcher } from '../../services/subscribers/src/ports/temporal-order-dispatcher';
import { FileCatalog } from '../../services/subscribers/test/support';

// A SIM replacement placed with replaceSim goes through the Temporal order workflow like the other
// line orders: the order waits ACKNOWLEDGED, the workflow provisions the new SIM, and completeOrder
// puts it on the line and charges POSTPAID_20GB's SIM_SWAP fee (14.99); a refused provisioning
// fails the order and changes nothing.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
const sandbox = new SandboxProvisioning();
// The worker's provisioning port over subscribers' sandbox network: its refusals (contracts'
// DomainError) become this package's DomainError, as a real provisioning adapter here throws them.
const network: ProvisioningPort = {
  execute: (req, opts) =>
    sandbox.execute(req, opts).catch((e: unknown) => {
      throw e instanceof ServiceError ? new DomainError(e.code, e.message, { retryable: e.details.retryable !== false }) : e;
    }),
  compensate: (req) => sandbox.compensate(req),
};
const taskQueue = uniqueId('sim-orders');

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await workflowBundle();
  const def = createSubscribersService({ catalog: new FileCatalog(), provisioning: sandbox, dispatcher: new TemporalOrderDispatcher(env.client, taskQueue), sweepIntervalMs: 0 });
  subscribers = await startServiceForTest(def, { clock: new ManualClock(new Date('2026-11-16T10:00:00Z')) });
});
afterAll(async () => {
  await subscribers?.close();
  await env?.teardown();
});

async function ok(query: string, variables: Record<string, unknown> = {}) {
  const r = await subscribers.request<any>(query, variables);
  if (r.errors) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data;
}

/** Runs a worker until the order's workflow ends. */
async function fulfil(orderId: string) {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: createOrderActivities({ orders: new GraphqlOrdersClient(subscribers.url, callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET)), provisioning: network }),
  });
  return worker.runUntil(env.client.workflow.getHandle(orderWorkflowId(orderId)).result());
}

const REPLACE = `mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { iccid } order { id kind status } } }`;
const LINE = `query($id: ID!) { line(id: $id) { status iccid billingAccount { oneOffCharges { reason amount { amount currency } description } } } }`;

describe('SIM replacement through the Temporal order workflow', () => {
  it('provisions the new SIM, then puts it on the line and charges the fee once; a refused one changes nothing', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Temporal Sim", kind: INDIVIDUAL, creditClass: A }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR", creditLimit: "300.00" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const msisdn = '+4915123888101';
    const oldSim = '8949010000000000016';
    const newSim = '8949010000000000024';
    const added = (await ok(`mutation($a: ID!, $m: String!, $s: String!) { addLine(input: { billingAccountId: $a, msisdn: $m, iccid: $s, planCode: "POSTPAID_20GB" }) { line { id } order { id } } }`, { a: accountId, m: msisdn, s: oldSim })).addLine;
    expect(await fulfil(added.order.id)).toMatchObject({ status: 'COMPLETED' });
    const lineId = added.line.id as string;

    const placed = (await ok(REPLACE, { i: { lineId, iccid: newSim, idempotencyKey: `sim-${lineId}`, reason: 'SIM lost' } })).replaceSim;
    // Handed to Temporal: nothing changes before the workflow has run.
    expect(placed).toMatchObject({ line: { iccid: oldSim }, order: { kind: 'SIM_REPLACEMENT', status: 'ACKNOWLEDGED' } });
    expect(await fulfil(placed.order.id)).toEqual({ orderId: placed.order.id, status: 'COMPLETED' });
    expect(sandbox.network.get(msisdn)).toMatchObject({ status: 'ACTIVE', iccid: newSim });
    const after = (await ok(LINE, { id: lineId })).line;
    expect(after).toMatchObject({ status: 'ACTIVE', iccid: newSim });
    const simFees = () => after.billingAccount.oneOffCharges.filter((c: { reason: string }) => c.reason === 'SIM_REPLACEMENT_FEE');
    expect(simFees()).toEqual([{ reason: 'SIM_REPLACEMENT_FEE', amount: { amount: '14.99', currency: 'EUR' }, description: `Replacement SIM for ${msisdn}` }]);
    // The client retries: the same order, no second workflow, no second charge.
    expect((await ok(REPLACE, { i: { lineId, iccid: newSim, idempotencyKey: `sim-${lineId}`, reason: 'SIM lost' } })).replaceSim.order).toMatchObject({ id: placed.order.id, status: 'COMPLETED' });

    sandbox.behave('SIM_REPLACEMENT', msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const refused = (await ok(REPLACE, { i: { lineId, iccid: '8949010000000000032', idempotencyKey: `sim2-${lineId}` } })).replaceSim;
    expect(await fulfil(refused.order.id)).toEqual({ orderId: refused.order.id, status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    sandbox.behave('SIM_REPLACEMENT', msisdn, null);
    expect(sandbox.network.get(msisdn)).toMatchObject({ iccid: newSim });
    const last = (await ok(LINE, { id: lineId })).line;
    expect(last.iccid).toBe(newSim);
    expect(last.billingAccount.oneOffCharges.filter((c: { reason: string }) => c.reason === 'SIM_REPLACEMENT_FEE')).toHaveLength(1);
  });
});
