// Dunning against the time-skipping test server: a partially paid invoice gets reminders, a late
// fee and suspension as time passes, and its lines are restored when it is paid; a dispute that
// covers the amount holds every step.
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoicingActivities, type InvoiceStatus, type InvoicingPort, type LateFeeRequest, type LineControlRequest, type ReminderRequest } from '../src/activities/invoicing';
import { disputeChangedSignal, dunningStatusQuery, dunningWorkflow, dunningWorkflowId, paymentRecordedSignal } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';

class Fakes {
  status: InvoiceStatus = { invoiceId: 'inv_1', billingAccountId: 'acc_1', state: 'PARTIALLY_PAID', currency: 'EUR', amountDue: '24.63', amountDisputed: '0' };
  reminders: ReminderRequest[] = [];
  fees = new Map<string, LateFeeRequest>();
  suspensions = new Map<string, LineControlRequest>();
  restorations = new Map<string, LineControlRequest>();
  invoicing: InvoicingPort = {
    startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
    processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
    billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
    invoiceStatus: async () => ({ ...this.status }),
    addLateFee: async (r) => void this.fees.set(r.idempotencyKey, r),
  };
}

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
});
afterAll(async () => env?.teardown());

const policy = { reminderDays: [1, 7], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 14 };

async function run(f: Fakes, body: (taskQueue: string) => Promise<void>) {
  const taskQueue = uniqueId('dunning');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: createInvoicingActivities({
      invoicing: f.invoicing,
      reminders: { sendReminder: async (r) => void f.reminders.push(r) },
      lines: { suspendAccountLines: async (r) => (f.suspensions.set(r.idempotencyKey, r), { lines: 2 }), restoreAccountLines: async (r) => (f.restorations.set(r.idempotencyKey, r), { lines: 2 }) },
    }),
    shutdownGraceTime: '1 second',
  });
  await worker.runUntil(() => body(taskQueue));
}

describe('dunningWorkflow', () => {
  it('partial payment → reminders → late fee → suspension → restoration on payment', async () => {
    const f = new Fakes();
    await run(f, async (taskQueue) => {
      const dueDate = new Date(await env.currentTimeMs()).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, { taskQueue, workflowId: dunningWorkflowId(`inv_${taskQueue}`), args: [{ invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate, policy }] });
      await env.sleep('8 days');
      expect(await handle.query(dunningStatusQuery)).toMatchObject({ phase: 'WAITING', stepsDone: ['REMINDER_1', 'REMINDER_2'], suspended: false });
      expect(f.suspensions.size).toBe(0);
      await env.sleep('7 days');
      expect(await handle.query(dunningStatusQuery)).toMatchObject({ phase: 'SUSPENDED', stepsDone: ['REMINDER_1', 'REMINDER_2', 'LATE_FEE', 'SUSPEND'], suspended: true });
      expect([...f.fees.values()]).toEqual([expect.objectContaining({ amount: '5.00', currency: 'EUR', billingAccountId: 'acc_1' })]);
      expect(f.suspensions.size).toBe(1);

      f.status = { ...f.status, state: 'SETTLED', amountDue: '0' };
      await handle.signal(paymentRecordedSignal);
      const result = await handle.result();
      expect(result).toMatchObject({ phase: 'PAID', suspended: false });
      expect(result.stepsDone.at(-1)).toBe('RESTORE');
      expect(f.restorations.size).toBe(1);
      // The restoration lifts only this workflow's own suspension (its bars are found by that key).
      expect([...f.restorations.values()][0]).toMatchObject({ suspendKey: `${handle.workflowId}:suspend` });
    });
  });

  it('holds every step while a dispute covers what is owed', async () => {
    const f = new Fakes();
    f.status = { ...f.status, state: 'ON_HOLD', amountDisputed: '24.63' };
    await run(f, async (taskQueue) => {
      const dueDate = new Date(await env.currentTimeMs()).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, { taskQueue, workflowId: dunningWorkflowId(`inv_${taskQueue}`), args: [{ invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate, policy }] });
      await env.sleep('20 days');
      expect(await handle.query(dunningStatusQuery)).toMatchObject({ phase: 'HELD', stepsDone: [] });
      expect(f.reminders).toHaveLength(0);
      expect(f.suspensions.size).toBe(0);
      // The dispute is settled with a credit note for the disputed part: nothing is owed any more.
      f.status = { ...f.status, state: 'SETTLED', amountDue: '0', amountDisputed: '0' };
      await handle.signal(disputeChangedSignal);
      expect(await handle.result()).toMatchObject({ phase: 'PAID', stepsDone: [] });
      expect(f.restorations.size).toBe(0);
    });
  });

  // A dunning started late (its worker or Temporal down for days, a backlog of overdue invoices)
  // fired every step already past at once: both reminders, the fee and the suspension in the same
  // minute, so the customer was cut off with no notice. The policy's spacing is kept from the first
  // step that fires: 6 days from the first reminder to the second, 13 to the suspension.
  it('started late, keeps the policy\'s notice between the steps instead of firing them all at once', async () => {
    const f = new Fakes();
    const firedAt: Record<string, number> = {};
    f.invoicing.addLateFee = async (r) => void (f.fees.set(r.idempotencyKey, r), (firedAt.LATE_FEE = await env.currentTimeMs()));
    await run(f, async (taskQueue) => {
      const DAY = 86_400_000;
      const start = await env.currentTimeMs();
      const dueDate = new Date(start - 20 * DAY).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, { taskQueue, workflowId: dunningWorkflowId(`inv_${taskQueue}`), args: [{ invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate, policy }] });
      await env.sleep('1 hour');
      expect((await handle.query(dunningStatusQuery)).stepsDone).toEqual(['REMINDER_1']);
      await env.sleep('6 days');
      expect((await handle.query(dunningStatusQuery)).stepsDone).toEqual(['REMINDER_1', 'REMINDER_2']);
      await env.sleep('7 days');
      expect((await handle.query(dunningStatusQuery)).stepsDone).toEqual(['REMINDER_1', 'REMINDER_2', 'LATE_FEE', 'SUSPEND']);
      expect(firedAt.LATE_FEE! - start).toBeGreaterThanOrEqual(9 * DAY);
      f.status = { ...f.status, state: 'SETTLED', amountDue: '0' };
      await handle.signal(paymentRecordedSignal);
      expect(await handle.result()).toMatchObject({ phase: 'PAID' });
    });
  });
});

/**
 * A dunning started with an input it cannot use fails at once, non-retryably, naming the fields,
 * before anything is asked or sent. Before: no policy or a due date that is not an instant threw in
 * the workflow (its task retried for ever: the run never ended and nobody was told), and a late fee
 * that is not a decimal went out to invoicing at the fee step, 10 days in.
 */
describe('dunningWorkflow input', () => {
  it.each([
    ['no policy', { invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate: '2026-11-01T00:00:00Z' }, ['policy']],
    ['a due date that is not an instant', { invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate: 'next tuesday', policy }, ['dueDate']],
    ['a late fee in a number, reminders not days', { invoiceId: 'inv_1', billingAccountId: 'acc_1', dueDate: '2026-11-01T00:00:00Z', policy: { reminderDays: ['1'], lateFee: { afterDays: 10, amount: 5 }, suspendAfterDays: 14 } }, ['policy.reminderDays', 'policy.lateFee.amount']],
    ['no invoice', { billingAccountId: 'acc_1', dueDate: '2026-11-01T00:00:00Z', policy }, ['invoiceId']],
  ])('%s: INVALID_DUNNING_INPUT at once, naming the field; nothing asked or sent', async (_name, input, fields) => {
    const f = new Fakes();
    let asked = 0;
    f.invoicing.invoiceStatus = async () => (asked++, { ...f.status });
    await run(f, async (taskQueue) => {
      const handle = await env.client.workflow.start('dunningWorkflow', { taskQueue, workflowId: uniqueId('dunning-input'), args: [input] });
      const failure = await Promise.race([
        handle.result().then(
          () => 'COMPLETED',
          (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
        ),
        new Promise((r) => setTimeout(() => r('still running'), 5_000)),
      ]);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: 'INVALID_DUNNING_INPUT', nonRetryable: true });
      for (const field of fields) expect((failure as ApplicationFailure).message).toContain(field);
    });
    expect(asked).toBe(0);
    expect(f.reminders).toEqual([]);
  });
});
