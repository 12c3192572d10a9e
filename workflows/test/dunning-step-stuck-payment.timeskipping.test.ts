// A dunning stuck in a retrying step (the network keeps refusing the bar; the reminder channel keeps
// failing) still sees a payment: the `paymentRecorded` signal makes it look at the invoice while the
// step retries, and paid, it cancels the step and ends PAID (lifting any hold the cancelled bar may
// have placed). Before, it saw the payment only once the step succeeded. Activities are fakes; the
// dunning workflow runs on the time-skipping server.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvoiceStatus, InvoicingActivities } from '../src/activities/invoicing';
import { dunningWorkflow, dunningWorkflowId, paymentRecordedSignal } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
});
afterAll(async () => {
  await env?.teardown();
});

async function runStuck(stuck: 'suspend' | 'reminder') {
  let status: InvoiceStatus = { invoiceId: 'inv_stuck', billingAccountId: 'ba_stuck', state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
  const calls = { suspend: 0, reminder: 0, restore: 0 };
  const refuse = () => {
    throw ApplicationFailure.retryable('the network refused the order', 'HLR_BUSY');
  };
  const activities: Partial<InvoicingActivities> = {
    invoiceStatus: async () => ({ ...status }),
    addLateFee: async () => {},
    sendReminder: async () => {
      calls.reminder += 1;
      if (stuck === 'reminder') refuse();
    },
    sendDunningNotice: async () => {},
    suspendAccountLines: async () => {
      calls.suspend += 1;
      if (stuck === 'suspend') refuse();
      return { lines: 1, lineIds: ['line_1'] };
    },
    restoreAccountLines: async () => {
      calls.restore += 1;
      return { lines: 0, lineIds: [] };
    },
  } as unknown as Partial<InvoicingActivities>;
  const taskQueue = uniqueId('dunning-stuck');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities, shutdownGraceTime: '1 second' });
  return worker.runUntil(async () => {
    const dueDate = new Date((await env.currentTimeMs()) - 15 * 86_400_000).toISOString();
    const handle = await env.client.workflow.start(dunningWorkflow, {
      taskQueue,
      workflowId: dunningWorkflowId(`inv_${taskQueue}`),
      args: [{ invoiceId: 'inv_stuck', billingAccountId: 'ba_stuck', dueDate, policy: stuck === 'reminder' ? { reminderDays: [1], suspendAfterDays: 30 } : { reminderDays: [], suspendAfterDays: 14 } }],
    });
    await env.sleep('2 hours'); // the step has been retried for two hours
    const triedBefore = stuck === 'suspend' ? calls.suspend : calls.reminder;
    status = { ...status, state: 'SETTLED', amountDue: '0' };
    await handle.signal(paymentRecordedSignal);
    // Bounded by the wall clock: before the fix the run stays in the step for good (its result never comes).
    const result = await Promise.race([handle.result(), new Promise<'STILL_RUNNING'>((resolve) => setTimeout(() => resolve('STILL_RUNNING'), 10_000))]);
    // From the signal to the run's close, in workflow time (the history's event times).
    const events = (await handle.fetchHistory()).events ?? [];
    const at = (type: number) => {
      const t = events.find((e) => Number(e.eventType) === type)?.eventTime;
      return t ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;
    };
    const endedAfterMs = at(2 /* completed */) - at(26 /* signaled */);
    if (result === 'STILL_RUNNING') await handle.terminate('test: still running after the payment');
    return { triedBefore, result, endedAfterMs, calls: { ...calls } };
  });
}

describe('dunning stuck in a retrying step', () => {
  it('a payment during a bar the network keeps refusing ends the dunning at once, lifting any hold', async () => {
    const r = await runStuck('suspend');
    expect(r.triedBefore).toBeGreaterThan(3);
    expect(r.result).not.toBe('STILL_RUNNING');
    if (r.result === 'STILL_RUNNING') return;
    expect(r.result.phase).toBe('PAID');
    expect(r.result.stepsDone).not.toContain('SUSPEND');
    expect(r.endedAfterMs).toBeLessThan(60_000); // not after the bar's next retry (up to 10 minutes) or the next day
    expect(r.calls.restore).toBe(1); // a bar attempt may have placed the hold: lifted
  });

  it('a payment during a reminder whose channel keeps failing ends the dunning at once', async () => {
    const r = await runStuck('reminder');
    expect(r.triedBefore).toBeGreaterThan(3);
    expect(r.result).not.toBe('STILL_RUNNING');
    if (r.result === 'STILL_RUNNING') return;
    expect(r.result.phase).toBe('PAID');
    expect(r.result.stepsDone).toEqual([]);
    expect(r.endedAfterMs).toBeLessThan(60_000);
    expect(r.calls.suspend).toBe(0);
  });
});
