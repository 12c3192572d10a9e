// Collections holds left by a dunning that did not end normally, on the time-skipping server.
//
// A dunning lifts its holds when the invoice is paid. One an operator terminates in Temporal (or
// that is cancelled, fails, times out) never gets there, and its holds kept the lines barred for
// ever. The worker's sweep (src/dunning-hold-sweep.ts) lifts them through subscribers, as a paid
// invoice would: lines barred for collections resume unless another dunning still holds them, a
// line the customer suspended stays suspended. A hold still open for a dunning that completed (it
// lifted its holds first) landed after that lift, a bar request committed late: lifted at once.
// Holds of a running dunning are left alone; so are those of a run Temporal cannot find until a
// grace period has passed. Two workers sweeping at once lift once; a second pass changes nothing.
//
// Real parts: Temporal (time-skipping server) runs the dunnings, the subscribers service
// (PostgreSQL, NATS, in-process orders) holds and bars the lines, and the sweep reads the holds
// and lifts them through the same GraphQL clients the worker uses; invoicing is an in-memory fake.
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlLineControlClient, type InvoiceStatus } from '../src/activities/invoicing';
import { createDunningHoldSweep, GraphqlOpenHoldsClient, TemporalDunningRuns, type DunningHoldSweep } from '../src/dunning-hold-sweep';
import { dunningStatusQuery, dunningWorkflow, dunningWorkflowId, paymentRecordedSignal, type DunningPolicy } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real subscribers service (test files only), with the collections-hold tests' set-up.
import { startHoldsService } from '../../services/subscribers/test/holds-support';

const DAY = 86_400_000;
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subscribers: TestService;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  ({ svc: subscribers } = await startHoldsService(clock));
});
afterAll(async () => {
  await subscribers?.close();
  await env?.teardown();
});

async function ok(q: string, v: Record<string, unknown> = {}) {
  clock.advance(1000);
  const r = await subscribers.request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

let msisdn = 0;
/** An account with `active` ACTIVE lines and, with `lost`, one more its customer suspended. */
async function account(active: number, lost = false) {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Tess Terminated", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id as string;
  const accountId = (
    await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })
  ).openBillingAccount.billingAccount.id as string;
  const lines: string[] = [];
  for (let i = 0; i < active + (lost ? 1 : 0); i++) {
    const m = `+49151242${String(++msisdn).padStart(5, '0')}`;
    lines.push((await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m })).addLine.line.id);
  }
  if (lost) {
    clock.advance(1000);
    const r = await subscribers.request(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`, { i: { lineId: lines.at(-1), reason: 'phone lost' } }, {
      role: 'CUSTOMER',
      subject: 'tess',
      customerId,
      scopes: [],
    });
    expect(r.errors).toBeUndefined();
  }
  return { accountId, lines };
}

interface LineView {
  status: string;
  collectionsHolds: { holder: string; liftedAt: string | null }[];
  orders: { kind: string }[];
}
const view = async (id: string) =>
  (await ok(`query($id: ID!) { line(id: $id) { status collectionsHolds(all: true) { holder liftedAt } orders { kind } } }`, { id })).line as LineView;
const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await view(id)).status));
const openHolders = async (id: string) => (await view(id)).collectionsHolds.filter((h) => !h.liftedAt).map((h) => h.holder);
const resumes = async (id: string) => (await view(id)).orders.filter((o) => o.kind === 'RESUME').length;
/** Everything the sweep could change, to see that a pass changed nothing. */
const snapshot = async (ids: string[]) => Promise.all(ids.map(view));

const placeByHand = (accountId: string, holder: string) =>
  ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { holds { id } } }`, {
    i: { billingAccountId: accountId, holder, reason: 'placed by an agent', idempotencyKey: `${holder}:by-hand` },
  });

const policy: DunningPolicy = { reminderDays: [1], lateFee: null, suspendAfterDays: 2 };
const invoices = new Map<string, InvoiceStatus>();
const headers = () => callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET);

const logs: { msg: string; obj: Record<string, unknown> }[] = [];
const logger = {
  info: (obj: object, msg: string) => void logs.push({ msg, obj: obj as Record<string, unknown> }),
  warn: (obj: object, msg: string) => void logs.push({ msg, obj: obj as Record<string, unknown> }),
};
/** A worker's sweep: real subscribers (list and lift) and the real Temporal. */
const sweep = (): DunningHoldSweep =>
  createDunningHoldSweep({
    holds: new GraphqlOpenHoldsClient({ url: subscribers.url, headers: headers() }),
    lines: new GraphqlLineControlClient({ url: subscribers.url, headers: headers() }),
    runs: new TemporalDunningRuns(env.client),
    logger,
    missingGraceMs: DAY,
  });

describe('the dunning hold sweep', () => {
  it('lifts the holds of a terminated or cancelled dunning, and one that landed after its dunning completed, once; leaves running dunnings, and missing ones within the grace period', async () => {
    const taskQueue = uniqueId('orphans');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createInvoicingActivities({
        invoicing: {
          startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
          processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
          billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
          invoiceStatus: async (r) => ({ ...invoices.get(r.invoiceId)! }),
          addLateFee: async () => {},
        },
        reminders: { sendReminder: async () => {} },
        lines: new GraphqlLineControlClient({ url: subscribers.url, headers: headers() }),
      }),
      shutdownGraceTime: '1 second',
    });
    const started: WorkflowHandle<typeof dunningWorkflow>[] = [];
    const start = async (invoice: string, accountId: string) => {
      const invoiceId = `${invoice}_${taskQueue}`;
      invoices.set(invoiceId, { invoiceId, billingAccountId: accountId, state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' });
      const dueDate = new Date((await env.currentTimeMs()) - DAY).toISOString(); // suspends a day from now
      const h = await env.client.workflow.start(dunningWorkflow, { taskQueue, workflowId: dunningWorkflowId(invoiceId), args: [{ invoiceId, billingAccountId: accountId, dueDate, policy }] });
      started.push(h);
      return { h, invoiceId };
    };

    const terminated = await account(2, true);
    const running = await account(2);
    const cancelled = await account(1);
    const completed = await account(1);
    const missing = await account(1);
    const all = [terminated, running, cancelled, completed, missing].flatMap((a) => a.lines);

    try {
      await worker.runUntil(async () => {
        const t = await start('inv_t', terminated.accountId);
        const r = await start('inv_r', running.accountId);
        const c = await start('inv_c', cancelled.accountId);
        const d = await start('inv_d', completed.accountId);
        // The completed one is paid before its suspension: it ends COMPLETED holding nothing.
        invoices.set(d.invoiceId, { ...invoices.get(d.invoiceId)!, state: 'SETTLED', amountDue: '0' });
        await d.h.signal(paymentRecordedSignal);
        await env.sleep('3 days');
        for (const x of [t, r, c]) expect((await x.h.query(dunningStatusQuery)).phase).toBe('SUSPENDED');
        expect(await d.h.result()).toMatchObject({ phase: 'PAID' });
        expect(await statuses(all)).toEqual(['BARRED', 'BARRED', 'SUSPENDED', 'BARRED', 'BARRED', 'BARRED', 'ACTIVE', 'ACTIVE']);

        // A bar request of the completed dunning, given up at its call timeout, commits in subscribers
        // after the dunning completed; and a line is held under the name of a dunning Temporal never
        // ran (the sweep's to lift only once it has been missing for the grace period).
        await placeByHand(completed.accountId, d.h.workflowId);
        const gone = dunningWorkflowId(`inv_gone_${taskQueue}`);
        await placeByHand(missing.accountId, gone);
        expect(await statuses([...completed.lines, ...missing.lines])).toEqual(['BARRED', 'BARRED']);

        // The operator terminates one dunning and cancels another: both leave their holds.
        await t.h.terminate('operator: wrong account');
        await c.h.cancel();
        await expect(c.h.result()).rejects.toThrow();
        expect((await t.h.describe()).status.name).toBe('TERMINATED');
        expect((await c.h.describe()).status.name).toBe('CANCELLED');
        expect(await openHolders(terminated.lines[0]!)).toEqual([t.h.workflowId]);
        expect(await statuses(terminated.lines)).toEqual(['BARRED', 'BARRED', 'SUSPENDED']);

        // Two workers sweep at the same moment.
        const now = clock.now();
        const [one, two] = await Promise.all([sweep().pass(now), sweep().pass(now)]);
        expect(one.failed + two.failed).toBe(0);
        expect(await statuses(terminated.lines), 'restored as a payment restores: the lost phone stays suspended').toEqual(['ACTIVE', 'ACTIVE', 'SUSPENDED']);
        expect(await statuses(cancelled.lines)).toEqual(['ACTIVE']);
        for (const id of [...terminated.lines, ...cancelled.lines]) {
          expect(await openHolders(id)).toEqual([]);
          expect(await resumes(id), 'two sweeps, one lift').toBe((await view(id)).status === 'ACTIVE' ? 1 : 0);
        }
        const lifted = [...one.lifted, ...two.lifted];
        expect(new Set(lifted.map((l) => `${l.holder} ${l.runState}`))).toEqual(new Set([`${t.h.workflowId} TERMINATED`, `${c.h.workflowId} CANCELLED`, `${d.h.workflowId} COMPLETED`]));
        // Each sweep counts the lift it sent (subscribers answers the second from the key); one took effect (below).
        expect([one.liftedAfterCompletion, two.liftedAfterCompletion]).toContain(1);
        expect(logs.some((l) => l.obj.holder === t.h.workflowId && l.obj.runState === 'TERMINATED' && /lifted/.test(l.msg))).toBe(true);
        expect(logs.some((l) => l.obj.holder === d.h.workflowId && l.obj.runState === 'COMPLETED' && /after their dunning completed/.test(l.msg))).toBe(true);
        // Before: the completed dunning's hold was kept, the paid customer's line barred for good.
        expect(await openHolders(completed.lines[0]!)).toEqual([]);
        expect(await statuses(completed.lines)).toEqual(['ACTIVE']);
        expect(await resumes(completed.lines[0]!), 'two sweeps, one lift').toBe(1);

        // Left alone: the running dunning, the missing one within its grace.
        expect(await statuses(running.lines)).toEqual(['BARRED', 'BARRED']);
        expect(await openHolders(running.lines[0]!)).toEqual([r.h.workflowId]);
        expect((await r.h.query(dunningStatusQuery)).phase).toBe('SUSPENDED');
        expect(await openHolders(missing.lines[0]!)).toEqual([gone]);
        expect(await statuses(missing.lines)).toEqual(['BARRED']);

        // A second pass changes nothing.
        const before = await snapshot(all);
        const again = await sweep().pass(clock.now());
        expect(again).toMatchObject({ lifted: [], waiting: 0, failed: 0, examined: 3, kept: 3 });
        expect(await snapshot(all)).toEqual(before);

        // Past the grace period, the holds of a run Temporal does not know are lifted too.
        const later = await sweep().pass(new Date(clock.now().getTime() + DAY));
        expect(later.lifted.map((l) => `${l.holder} ${l.runState}`)).toEqual([`${gone} NOT_FOUND`]);
        expect(await statuses([...completed.lines, ...missing.lines])).toEqual(['ACTIVE', 'ACTIVE']);
        expect(await openHolders(running.lines[0]!)).toEqual([r.h.workflowId]);

        // Once the running dunning is terminated too, the next pass lifts its holds.
        await r.h.terminate('operator');
        const last = await sweep().pass(clock.now());
        expect(last.lifted.map((l) => `${l.holder} ${l.runState}`)).toEqual([`${r.h.workflowId} TERMINATED`]);
        expect(await statuses(running.lines)).toEqual(['ACTIVE', 'ACTIVE']);
      });
    } catch (error) {
      // No run is left behind without a worker: the test server would stop skipping time for it.
      await Promise.all(started.map((h) => h.terminate('test failed').catch(() => undefined)));
      throw error;
    }
  });
});
