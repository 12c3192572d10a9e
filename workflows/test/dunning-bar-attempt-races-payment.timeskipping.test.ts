// A payment that reaches a dunning while its bar is on its way to subscribers (patch
// `dunning-step-races-payment` cancels the step, `dunning-waits-for-cancelled-bar` makes it wait):
// - the bar's attempt still running when the step is cancelled: subscribers places the hold once that
//   attempt lands. Before, the workflow lifted this dunning's holds at once (finding none yet) and
//   completed PAID; the hold landing after it barred the paid customer's lines for good (the orphaned-holds
//   sweep leaves the holds of a COMPLETED dunning alone). Now the cancelled bar is waited for, so the lift
//   comes after it.
// - the payment seen by the step's watch only once the step had ended: that look was dropped, and the
//   suspended dunning noticed the payment at its next daily look (the lines barred a day after paying).
//   Now it looks again at once.
// Subscribers' holds are a fake here (a hold placed by key, lifted by holder); the dunning workflow runs on
// the time-skipping server. Runs of the code before the patch replay (fixtures/dunning-before-bar-wait.ts).
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvoiceStatus, InvoicingActivities, LineControlRequest, LineRestoreRequest } from '../src/activities/invoicing';
import { dunningWorkflow, dunningWorkflowId, paymentRecordedSignal, type DunningStatus } from '../src/workflows/dunning';
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

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Subscribers' collections holds of one account: placed once per key, lifted per holder. */
class Holds {
  readonly open = new Map<string, string>(); // placedKey → holder
  readonly placedKeys = new Set<string>();
  place(r: LineControlRequest) {
    if (this.placedKeys.has(r.idempotencyKey)) return; // a retry of a placement: its effect, nothing new
    this.placedKeys.add(r.idempotencyKey);
    this.open.set(r.idempotencyKey, r.holdId ?? '');
  }
  lift(r: LineRestoreRequest) {
    for (const [key, holder] of this.open) if (holder === r.holdId) this.open.delete(key);
  }
}

interface Scenario {
  /** Real ms the bar's one attempt takes before its hold lands. */
  barTakesMs: number;
  /** Real ms after the attempt began that the payment is signalled. */
  payAfterMs: number;
  /** Real ms the invoice look takes once the invoice is paid. */
  paidLookTakesMs: number;
}

async function run(s: Scenario, workflowBundle: WorkflowBundle = bundle) {
  const holds = new Holds();
  let status: InvoiceStatus = { invoiceId: 'inv_race', billingAccountId: 'ba_race', state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
  let barAttempts = 0;
  const activities = {
    invoiceStatus: async () => {
      const now = { ...status };
      if (now.amountDue === '0') await wait(s.paidLookTakesMs);
      return now;
    },
    sendReminder: async () => {},
    sendDunningNotice: async () => {},
    suspendAccountLines: async (r: LineControlRequest) => {
      barAttempts += 1;
      await wait(s.barTakesMs); // the request on its way: subscribers has not placed the hold yet
      holds.place(r);
      return { lines: 1, lineIds: ['line_1'] };
    },
    restoreAccountLines: async (r: LineRestoreRequest) => {
      holds.lift(r);
      return { lines: 1, lineIds: ['line_1'] };
    },
  } as unknown as Partial<InvoicingActivities>;
  const taskQueue = uniqueId('dunning-bar-race');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, shutdownGraceTime: '1 second' });
  return worker.runUntil(async () => {
    const dueDate = new Date((await env.currentTimeMs()) - 15 * 86_400_000).toISOString();
    const handle = await env.client.workflow.start(dunningWorkflow, {
      taskQueue,
      workflowId: dunningWorkflowId(`inv_${taskQueue}`),
      args: [{ invoiceId: 'inv_race', billingAccountId: 'ba_race', dueDate, policy: { reminderDays: [], suspendAfterDays: 14 } }],
    });
    for (let i = 0; i < 200 && barAttempts === 0; i++) await wait(25);
    expect(barAttempts).toBe(1);
    await wait(s.payAfterMs);
    status = { ...status, state: 'SETTLED', amountDue: '0' };
    await handle.signal(paymentRecordedSignal);
    const result = await Promise.race([handle.result(), wait(20_000).then(() => 'STILL_RUNNING' as const)]);
    if (result === 'STILL_RUNNING') await handle.terminate('test: still running after the payment');
    await wait(Math.max(0, s.barTakesMs - s.payAfterMs) + 200); // every attempt has landed by now
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const at = (type: number) => {
      const t = events.find((e) => Number(e.eventType) === type)?.eventTime;
      return t ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;
    };
    return { result: result as DunningStatus | 'STILL_RUNNING', openHolds: [...holds.open.values()], endedAfterMs: at(2 /* completed */) - at(26 /* signaled */), history };
  });
}

describe('dunning: a payment while the bar is on its way', () => {
  it('the bar attempt lands after the step was cancelled: its hold is lifted all the same, no line stays barred after the payment', async () => {
    const r = await run({ barTakesMs: 2_500, payAfterMs: 300, paidLookTakesMs: 0 });
    expect(r.result).toMatchObject({ phase: 'PAID' });
    // Before: the lift came first (nothing to lift yet), the hold landed after it, the dunning COMPLETED.
    expect(r.openHolds).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: bundle }, r.history);
  });

  it('the step ends while the payment is being looked at: the dunning sees it at once, not at its next daily look', async () => {
    const r = await run({ barTakesMs: 1_200, payAfterMs: 300, paidLookTakesMs: 3_000 });
    expect(r.result).toMatchObject({ phase: 'PAID', stepsDone: ['SUSPEND', 'RESTORE'] });
    expect(r.openHolds).toEqual([]);
    // Before: about a day (86,400,000 ms) from the payment to the lines back on.
    expect(r.endedAfterMs).toBeLessThan(60_000);
    await Worker.runReplayHistory({ workflowBundle: bundle }, r.history);
  });

  it('runs of the code before the patches replay on the current code, both races as they ran', async () => {
    const before = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/dunning-before-bar-wait.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    // This one first: after a run whose cancelled bar completed late, the test server was seen to stop skipping time.
    const lookLate = await run({ barTakesMs: 1_200, payAfterMs: 300, paidLookTakesMs: 3_000 }, before);
    expect(lookLate.endedAfterMs).toBeGreaterThanOrEqual(86_400_000); // the old code waited for its daily look
    await Worker.runReplayHistory({ workflowBundle: bundle }, lookLate.history);
    const barLate = await run({ barTakesMs: 2_500, payAfterMs: 300, paidLookTakesMs: 0 }, before);
    expect(barLate.openHolds).toHaveLength(1); // the old code lifted before the hold landed
    await Worker.runReplayHistory({ workflowBundle: bundle }, barLate.history);
  });
});
