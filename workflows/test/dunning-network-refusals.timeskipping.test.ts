// Review 18: the network refuses the dunning's bar, later its resumption. The suspension and the
// restoration activities are answered "not done" (the line in `waiting`) and retried with the
// activity's backoff; each retry tries the bar / resumption again (a new attempt keyed after the
// refused one). The dunning ends PAID with the line back in service, never believing a line barred
// that is not, nor leaving a paying customer barred.
//
// Real subscribers service (in-process fulfilment), the dunning workflow on the time-skipping
// server, invoicing as an in-memory fake.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlLineControlClient, type InvoiceStatus } from '../src/activities/invoicing';
import { dunningStatusQuery, dunningWorkflow, dunningWorkflowId, paymentRecordedSignal } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';
import { createSubscribersService } from '../../services/subscribers/src/service';
import { InlineOrderDispatcher } from '../../services/subscribers/src/ports/order-dispatcher';
import { SandboxProvisioning, type ProvisioningAdapter, type ProvisioningRequest } from '../../services/subscribers/src/ports/provisioning';

/** The sandbox network, refusing the first `refusals[kind]` executions of each kind. */
class RefusingNetwork implements ProvisioningAdapter {
  readonly sandbox = new SandboxProvisioning();
  readonly refusals: Record<string, number> = {};
  async execute(req: ProvisioningRequest) {
    if ((this.refusals[req.kind] ?? 0) > 0) {
      this.refusals[req.kind]! -= 1;
      throw new DomainError('HLR_BUSY', `The network refused ${req.kind} for ${req.msisdn}`, { retryable: false });
    }
    return this.sandbox.execute(req);
  }
  compensate(req: ProvisioningRequest) {
    return this.sandbox.compensate(req);
  }
}

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
const network = new RefusingNetwork();
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const catalog = { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null };
  const dispatcher = new InlineOrderDispatcher(network, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog });
  subscribers = await startServiceForTest(createSubscribersService({ catalog, provisioning: network, dispatcher, sweepIntervalMs: 0, wallets: null, notifications: false }), {
    clock: new ManualClock(new Date('2026-11-16T10:00:00Z')),
  });
});
afterAll(async () => {
  await subscribers?.close();
  await env?.teardown();
});

async function ok(q: string, v: Record<string, unknown> = {}) {
  const r = await subscribers.request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

describe('review18: dunning when the network refuses the bar and the resumption', () => {
  it('retries the suspension until the line is barred, and the restoration until it is back in service', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Rolf Refused", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const lineId = (await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123777001" }) { line { id } } }`, { a: accountId })).addLine.line.id as string;
    const lineStatus = async () => (await ok(`query($id: ID!) { line(id: $id) { status orders { kind status } } }`, { id: lineId })).line;

    let status: InvoiceStatus = { invoiceId: 'inv_refused', billingAccountId: accountId, state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
    const taskQueue = uniqueId('dunning');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createInvoicingActivities({
        invoicing: {
          startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
          processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
          billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
          invoiceStatus: async () => ({ ...status }),
          addLateFee: async () => {},
        },
        reminders: { sendReminder: async () => {} },
        lines: new GraphqlLineControlClient({ url: subscribers.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) }),
      }),
      shutdownGraceTime: '1 second',
    });

    network.refusals.BAR = 2;
    const outcome = await worker.runUntil(async () => {
      const dueDate = new Date((await env.currentTimeMs()) - 15 * 86_400_000).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, {
        taskQueue,
        workflowId: dunningWorkflowId(`inv_${taskQueue}`),
        args: [{ invoiceId: 'inv_refused', billingAccountId: accountId, dueDate, policy: { reminderDays: [], suspendAfterDays: 14 } }],
      });
      await env.sleep('1 hour');
      const suspended = await handle.query(dunningStatusQuery);
      const barred = await lineStatus();
      network.refusals.RESUME = 2;
      status = { ...status, state: 'SETTLED', amountDue: '0' };
      await handle.signal(paymentRecordedSignal);
      const result = await handle.result();
      return { phase: suspended.phase, barredLineIds: suspended.barredLineIds, barred: barred.status, result: result.phase, steps: result.stepsDone };
    });
    expect(outcome).toEqual({ phase: 'SUSPENDED', barredLineIds: [lineId], barred: 'BARRED', result: 'PAID', steps: ['SUSPEND', 'RESTORE'] });
    const line = await lineStatus();
    const count = (kind: string) => line.orders.filter((o: { kind: string }) => o.kind === kind).map((o: { status: string }) => o.status).sort();
    expect({ status: line.status, bars: count('BAR'), resumes: count('RESUME') }).toEqual({
      status: 'ACTIVE',
      bars: ['COMPLETED', 'FAILED', 'FAILED'],
      resumes: ['COMPLETED', 'FAILED', 'FAILED'],
    });
  });
});
