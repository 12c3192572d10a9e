// Review: an order in flight on one of the account's lines must not end dunning for good.
//
// Dunning suspends through GraphqlLineControlClient.suspendAccountLines, which bars each ACTIVE
// line with barLine. subscribers refuses a lifecycle order while another order for the line is
// still open (CONFLICT ORDER_ALREADY_OPEN), a state that lasts only until that order is fulfilled
// (seconds with Temporal fulfilment). graphqlRequest turns every CONFLICT into a non-retryable
// DomainError, so the SUSPEND activity fails for good and the whole dunning workflow FAILS: the
// account is never suspended, and, were it already suspended, it would never be restored on
// payment. A temporary refusal must be retried (or the line skipped), not end collections.
//
// Real subscribers service (orders handed over and fulfilled later, as with Temporal fulfilment),
// the dunning workflow on the time-skipping server, invoicing as an in-memory fake.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlLineControlClient, type InvoiceStatus, type ReminderRequest } from '../src/activities/invoicing';
import { dunningWorkflow, dunningWorkflowId, paymentRecordedSignal } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real subscribers service (test files only), as in order-fulfilment.test.ts.
import { createSubscribersService } from '../../services/subscribers/src/service';
import { InlineOrderDispatcher, type OrderDispatcher } from '../../services/subscribers/src/ports/order-dispatcher';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';

/** Hands orders over and fulfils them when told, like the Temporal dispatcher's workflow would. */
class DeferredDispatcher implements OrderDispatcher {
  readonly queued: string[] = [];
  constructor(private readonly inner: InlineOrderDispatcher) {}
  async dispatch(orderId: string): Promise<void> {
    this.queued.push(orderId);
  }
  async fulfil(): Promise<void> {
    for (const id of this.queued.splice(0)) await this.inner.dispatch(id, subscribers.runtime);
  }
}

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
let dispatcher: DeferredDispatcher;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const sandbox = new SandboxProvisioning();
  const catalog = { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null };
  dispatcher = new DeferredDispatcher(new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog }));
  subscribers = await startServiceForTest(createSubscribersService({ catalog, provisioning: sandbox, dispatcher, sweepIntervalMs: 0, wallets: null, notifications: false }), {
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

describe('review3: dunning while an order is open on one of the lines', () => {
  it('the suspension waits for the open order instead of failing the dunning workflow', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Otto Open", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const add = async (m: string) => (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m })).addLine.line.id as string;
    const lineA = await add('+4915123666001');
    const lineB = await add('+4915123666002');
    await dispatcher.fulfil(); // both lines ACTIVE
    // An order is in flight on line B (the customer suspends it; fulfilment has not run yet).
    const pending = await subscribers.request(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { order { status } } }`, { i: { lineId: lineB, reason: 'travelling' } }, { role: 'CUSTOMER', subject: 'otto', customerId, scopes: [] });
    expect(pending.data?.suspendLine.order.status).toBe('ACKNOWLEDGED');

    let status: InvoiceStatus = { invoiceId: 'inv_open', billingAccountId: accountId, state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
    const reminders: ReminderRequest[] = [];
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
        reminders: { sendReminder: async (r) => void reminders.push(r) },
        lines: new GraphqlLineControlClient({ url: subscribers.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) }),
      }),
      shutdownGraceTime: '1 second',
    });

    const outcome = await worker.runUntil(async () => {
      // Due 15 days ago: the first reminder is due now, the rest follow at the policy's spacing (the
      // suspension 13 days after it).
      const dueDate = new Date((await env.currentTimeMs()) - 15 * 86_400_000).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, {
        taskQueue,
        workflowId: dunningWorkflowId(`inv_${taskQueue}`),
        args: [{ invoiceId: 'inv_open', billingAccountId: accountId, dueDate, policy: { reminderDays: [1, 7], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 14 } }],
      });
      // Let the workflow reach its suspension step (and retry it a while) while line B's order is open.
      await env.sleep('14 days');
      const whileOpen = (await handle.describe()).status.name;
      // The open order is fulfilled; then the customer pays.
      await dispatcher.fulfil();
      if (whileOpen === 'RUNNING') {
        await env.sleep('2 days');
        status = { ...status, state: 'SETTLED', amountDue: '0' };
        await handle.signal(paymentRecordedSignal);
      }
      const result = await handle.result().then(
        (r) => r.phase,
        (e: Error) => {
          const activity = e.cause as (Error & { cause?: Error & { type?: string } }) | undefined;
          return `FAILED: ${activity?.message ?? e.message}: ${activity?.cause?.type ?? ''} ${activity?.cause?.message ?? ''}`;
        },
      );
      return { whileOpen, result };
    });

    expect(reminders.length).toBe(2);
    // Correct: an order open on one line is a passing state; dunning keeps running, suspends the
    // account once it can, and ends PAID (lines restored) when the invoice is paid.
    expect(outcome, 'dunning must survive a CONFLICT ORDER_ALREADY_OPEN on one line (retry it), not fail the workflow').toEqual({ whileOpen: 'RUNNING', result: 'PAID' });
    const lineStatus = async (id: string) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id })).line.status;
    // The restore's RESUME order of line A waits for the (deferred) network like every order here.
    await dispatcher.fulfil();
    expect(await lineStatus(lineA)).toBe('ACTIVE');
  });
});
