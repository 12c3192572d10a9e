// Dunning with collections holds and disputes, on the time-skipping server.
//
// (a) Two unpaid invoices of one account, each with its dunning: both hold the lines; paying the
//     first leaves them barred for the second, paying the second restores them. A line the
//     customer suspended stays suspended throughout.
// (b) A dispute opened after the suspension lifts that dunning's hold while it is open (other
//     dunnings' holds stay); lost with the invoice unpaid, the hold comes back at once (the policy's
//     clock stood past its suspension day); won (nothing owed), the dunning ends.
// Runs of the previous workflow code (fixtures/dunning-before-dispute-patch.ts) replay on the
// current code and take the new dispute branch from their next look.
//
// The real subscribers service (inline orders, sandbox network) holds and bars the lines through
// GraphqlLineControlClient, as the worker does in production; invoicing is an in-memory fake.
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import {
  createInvoicingActivities,
  GraphqlLineControlClient,
  type InvoiceStatus,
  type LineControlPort,
  type LineControlRequest,
  type LineRestoreRequest,
} from '../src/activities/invoicing';
import {
  disputeChangedSignal,
  dunningStatusQuery,
  dunningWorkflow,
  dunningWorkflowId,
  paymentRecordedSignal,
  type DunningPolicy,
} from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real subscribers service (test files only), as in review3-dunning-restore.test.ts.
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  const catalog = { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null };
  subscribers = await startServiceForTest(
    createSubscribersService({ catalog, provisioning: new SandboxProvisioning(), sweepIntervalMs: 0, wallets: null, notifications: false }),
    {
      clock: new ManualClock(new Date('2026-11-16T10:00:00Z')),
    },
  );
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

let msisdn = 0;
/** An account with two ACTIVE lines and one its customer suspended (lost phone). */
async function account() {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Dora Dispute", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer
    .id as string;
  const accountId = (
    await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, {
      c: customerId,
    })
  ).openBillingAccount.billingAccount.id as string;
  const add = async () =>
    (
      await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, {
        a: accountId,
        m: `+49151238${String(++msisdn).padStart(5, '0')}`,
      })
    ).addLine.line.id as string;
  const lines = [await add(), await add(), await add()];
  const lost = await subscribers.request(
    `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`,
    { i: { lineId: lines[2], reason: 'phone lost' } },
    { role: 'CUSTOMER', subject: 'dora', customerId, scopes: [] },
  );
  expect(lost.errors).toBeUndefined();
  return { accountId, lines };
}
const statuses = async (ids: string[]) =>
  Promise.all(ids.map(async (id) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id })).line.status as string));

const DAY = 86_400_000;
const policy: DunningPolicy = { reminderDays: [1], lateFee: null, suspendAfterDays: 2 };

/** Invoicing as the workflow sees it: one status per invoice, changed by the test. */
class Invoices {
  readonly byId = new Map<string, InvoiceStatus>();
  add(invoiceId: string, billingAccountId: string): void {
    this.byId.set(invoiceId, { invoiceId, billingAccountId, state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' });
  }
  set(invoiceId: string, change: Partial<InvoiceStatus>): void {
    this.byId.set(invoiceId, { ...this.byId.get(invoiceId)!, ...change });
  }
  disputed = (id: string) => this.set(id, { state: 'ON_HOLD', amountDisputed: this.byId.get(id)!.amountDue });
  lost = (id: string) => this.set(id, { state: 'SENT', amountDisputed: '0' });
  paid = (id: string) => this.set(id, { state: 'SETTLED', amountDue: '0', amountDisputed: '0' });
}

function activities(invoices: Invoices, lines: LineControlPort) {
  return createInvoicingActivities({
    invoicing: {
      startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
      processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
      billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
      invoiceStatus: async (r) => ({ ...invoices.byId.get(r.invoiceId)! }),
      addLateFee: async () => {},
    },
    reminders: { sendReminder: async () => {} },
    lines,
  });
}

const realLines = () => new GraphqlLineControlClient({ url: subscribers.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });

type Start = (invoiceId: string, accountId: string, dueInDays: number) => Promise<WorkflowHandle<typeof dunningWorkflow>>;
interface WorkerSetup {
  lines?: LineControlPort;
  workflowBundle?: WorkflowBundle;
  taskQueue?: string;
  /** 0: no sticky cache, so another worker can take the run over at once (the test server never times a sticky queue out). */
  maxCachedWorkflows?: number;
}

/** Runs `body` with a worker (real subscribers, current code by default); `start` starts an invoice's dunning, due `dueInDays` from now. */
async function withWorker<T>(invoices: Invoices, body: (start: Start) => Promise<T>, setup: WorkerSetup = {}): Promise<T> {
  const { lines = realLines(), workflowBundle = bundle, taskQueue = uniqueId('dunning'), maxCachedWorkflows } = setup;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: activities(invoices, lines),
    shutdownGraceTime: '1 second',
    maxCachedWorkflows,
  });
  const started: WorkflowHandle<typeof dunningWorkflow>[] = [];
  const start: Start = async (invoiceId, accountId, dueInDays) => {
    const dueDate = new Date((await env.currentTimeMs()) + dueInDays * DAY).toISOString();
    const handle = await env.client.workflow.start(dunningWorkflow, {
      taskQueue,
      workflowId: dunningWorkflowId(`${invoiceId}_${taskQueue}`),
      args: [{ invoiceId, billingAccountId: accountId, dueDate, policy }],
    });
    started.push(handle);
    return handle;
  };
  try {
    return await worker.runUntil(() => body(start));
  } catch (error) {
    // A failed test leaves no run behind without a worker: the test server would stop skipping time for it.
    await Promise.all(started.map((h) => h.terminate('test failed').catch(() => undefined)));
    throw error;
  }
}

/** Tells the workflow to look again and lets it act (activities run in real time, the rest is skipped). */
async function poke(
  handle: WorkflowHandle<typeof dunningWorkflow>,
  signal: typeof disputeChangedSignal | typeof paymentRecordedSignal = disputeChangedSignal,
): Promise<void> {
  await handle.signal(signal);
  await env.sleep('1 hour');
}

describe('dunning: one hold per invoice on the lines', () => {
  it('paying one of two overdue invoices leaves the lines barred for the other; paying both restores them', async () => {
    const { accountId, lines } = await account();
    const invoices = new Invoices();
    invoices.add('inv_a', accountId);
    invoices.add('inv_b', accountId);
    await withWorker(invoices, async (start) => {
      const a = await start('inv_a', accountId, -1); // suspends a day from now
      const b = await start('inv_b', accountId, 0); // two days from now
      await env.sleep('3 days');
      expect((await a.query(dunningStatusQuery)).phase).toBe('SUSPENDED');
      expect((await b.query(dunningStatusQuery)).phase).toBe('SUSPENDED');
      expect(await statuses(lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.paid('inv_a');
      await poke(a, paymentRecordedSignal);
      expect(await a.result()).toMatchObject({ phase: 'PAID', suspended: false });
      expect(await statuses(lines), 'invoice B is still unpaid: its dunning still holds the lines').toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.paid('inv_b');
      await poke(b, paymentRecordedSignal);
      expect(await b.result()).toMatchObject({ phase: 'PAID' });
      expect(await statuses(lines), 'both paid: restored, and the lost phone stays suspended').toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);
    });
  });
});

describe('dunning: a dispute opened after the suspension', () => {
  it('restores the service while it is open; lost with the invoice unpaid, the lines are barred again; paid, restored', async () => {
    const { accountId, lines } = await account();
    const invoices = new Invoices();
    invoices.add('inv_d', accountId);
    const history = await withWorker(invoices, async (start) => {
      const d = await start('inv_d', accountId, -1);
      await env.sleep('2 days');
      expect(await statuses(lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.disputed('inv_d');
      await poke(d);
      expect(await d.query(dunningStatusQuery)).toMatchObject({ phase: 'HELD', suspended: false });
      expect(await statuses(lines), 'open dispute: service restored').toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);
      await env.sleep('10 days');
      expect(await statuses(lines), 'for as long as the dispute is open').toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);

      invoices.lost('inv_d');
      await poke(d);
      expect(await d.query(dunningStatusQuery)).toMatchObject({
        phase: 'SUSPENDED',
        suspended: true,
        stepsDone: ['REMINDER_1', 'SUSPEND', 'DISPUTE_RESTORE', 'SUSPEND'],
      });
      expect(await statuses(lines), 'dispute lost, still unpaid: barred again').toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.paid('inv_d');
      await poke(d, paymentRecordedSignal);
      expect(await d.result()).toMatchObject({ phase: 'PAID', stepsDone: ['REMINDER_1', 'SUSPEND', 'DISPUTE_RESTORE', 'SUSPEND', 'RESTORE'] });
      expect(await statuses(lines)).toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);
      return d.fetchHistory();
    });
    // The patched branch replays deterministically.
    await Worker.runReplayHistory({ workflowBundle: bundle }, history);
  });

  it('lifts only its own hold: another unpaid invoice keeps the lines barred; won, the dunning ends', async () => {
    const { accountId, lines } = await account();
    const invoices = new Invoices();
    invoices.add('inv_e', accountId);
    invoices.add('inv_f', accountId);
    await withWorker(invoices, async (start) => {
      const e = await start('inv_e', accountId, -1);
      const f = await start('inv_f', accountId, -1);
      await env.sleep('2 days');
      expect(await statuses(lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.disputed('inv_e');
      await poke(e);
      expect(await e.query(dunningStatusQuery)).toMatchObject({ phase: 'HELD', suspended: false });
      expect(await statuses(lines), "invoice F's dunning still holds the lines").toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      // Resolved in the customer's favour: credited in full, nothing owed.
      invoices.paid('inv_e');
      await poke(e);
      expect(await e.result()).toMatchObject({ phase: 'PAID', stepsDone: ['REMINDER_1', 'SUSPEND', 'DISPUTE_RESTORE'] });
      expect(await statuses(lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

      invoices.paid('inv_f');
      await poke(f, paymentRecordedSignal);
      expect(await f.result()).toMatchObject({ phase: 'PAID' });
      expect(await statuses(lines)).toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);
    });
  });

  it('a partial dispute holds nothing: the undisputed rest is still owed, the lines stay barred', async () => {
    const { accountId, lines } = await account();
    const invoices = new Invoices();
    invoices.add('inv_p', accountId);
    await withWorker(invoices, async (start) => {
      const p = await start('inv_p', accountId, -1);
      await env.sleep('2 days');
      invoices.set('inv_p', { state: 'ON_HOLD', amountDisputed: '10.00' });
      await poke(p);
      expect(await p.query(dunningStatusQuery)).toMatchObject({ phase: 'SUSPENDED', suspended: true });
      expect(await statuses(lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);
      invoices.paid('inv_p');
      await poke(p, paymentRecordedSignal);
      expect(await p.result()).toMatchObject({ phase: 'PAID' });
    });
  });
});

describe('dunning: runs of the previous workflow code', () => {
  it('replay on the current code, and a dispute seen after the switch lifts the hold', async () => {
    const before = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./fixtures/dunning-before-dispute-patch.ts', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    });
    const calls: { op: 'suspend' | 'restore'; key: string; holdId?: string; suspendKey?: string }[] = [];
    const lines: LineControlPort = {
      suspendAccountLines: async (r: LineControlRequest) => (
        calls.push({ op: 'suspend', key: r.idempotencyKey, holdId: r.holdId }),
        { lines: 1, lineIds: ['lin_1'] }
      ),
      restoreAccountLines: async (r: LineRestoreRequest) => (
        calls.push({ op: 'restore', key: r.idempotencyKey, holdId: r.holdId, suspendKey: r.suspendKey }),
        { lines: 1, lineIds: ['lin_1'] }
      ),
    };
    const invoices = new Invoices();
    invoices.add('inv_old', 'acc_old');
    const taskQueue = uniqueId('dunning-old');
    const handle = await withWorker(
      invoices,
      async (start) => {
        const h = await start('inv_old', 'acc_old', -1);
        await env.sleep('2 days');
        invoices.disputed('inv_old');
        await poke(h); // the old code looks, and leaves the lines barred
        expect(await h.query(dunningStatusQuery)).toMatchObject({ phase: 'SUSPENDED', suspended: true });
        return h;
      },
      { lines, workflowBundle: before, taskQueue, maxCachedWorkflows: 0 },
    );
    const workflowId = handle.workflowId;
    expect(calls.map((c) => c.op)).toEqual(['suspend']);
    await Worker.runReplayHistory({ workflowBundle: bundle }, await handle.fetchHistory());

    // A current worker takes the run over: at its next look the dispute lifts the hold.
    await withWorker(
      invoices,
      async () => {
        const h = env.client.workflow.getHandle<typeof dunningWorkflow>(workflowId);
        await poke(h);
        expect(await h.query(dunningStatusQuery)).toMatchObject({ phase: 'HELD', suspended: false });
        invoices.lost('inv_old');
        await poke(h);
        invoices.paid('inv_old');
        await poke(h, paymentRecordedSignal);
        expect(await h.result()).toMatchObject({ phase: 'PAID', stepsDone: ['REMINDER_1', 'SUSPEND', 'DISPUTE_RESTORE', 'SUSPEND', 'RESTORE'] });
      },
      { lines, taskQueue },
    );
    expect(calls).toEqual([
      { op: 'suspend', key: `${workflowId}:suspend`, holdId: undefined },
      { op: 'restore', key: `${workflowId}:dispute-restore-1`, holdId: workflowId, suspendKey: undefined },
      { op: 'suspend', key: `${workflowId}:suspend-2`, holdId: workflowId },
      { op: 'restore', key: `${workflowId}:restore`, holdId: workflowId, suspendKey: `${workflowId}:suspend` },
    ]);
  });
});
