// Bill cycle against the time-skipping test server: months pass in milliseconds. The account
// starts ~75 days in the past, so the workflow first catches up on the periods already over,
// then sleeps; skipping 35 days makes exactly the next boundary pass.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBillCycle } from '../src/client';
import { nextPeriodEnd } from '../src/domain/bill-cycle';
import { accountClosedSignal } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});

afterAll(async () => {
  await env?.teardown();
});

const DAY_MS = 86_400_000;

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Period ends from `start`, chained as the workflow does, up to and including the first after `until`. */
function expectedEnds(start: string, day: number, tz: string, untilMs: number): string[] {
  const ends: string[] = [];
  let from = start;
  do {
    from = nextPeriodEnd(from, day, tz);
    ends.push(from);
  } while (Date.parse(from) <= untilMs);
  return ends;
}

describe('billCycleWorkflow (time-skipping server)', () => {
  it('closes each period at its end, continues as new per period, and stops when the account closes', async () => {
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const billingAccountId = uniqueId('ba');
    const input = { billingAccountId, billCycleDay: 31, timezone: 'America/New_York', startFrom: new Date((await env.currentTimeMs()) - 75 * DAY_MS).toISOString() };
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });

    await worker.runUntil(async () => {
      const handle = await startBillCycle(env.client, input, { taskQueue });
      const firstRunId = handle.firstExecutionRunId;

      // Catch-up: every period that ended before "now" is closed, and the next one is not.
      const now = await env.currentTimeMs();
      const due = expectedEnds(input.startFrom, 31, input.timezone, now);
      const overdue = due.length - 1; // the last one is still in the future
      expect(overdue).toBeGreaterThanOrEqual(2);
      await waitFor(() => systems.billingPeriods.closed.length === overdue, `${overdue} overdue periods to close`);
      const latest = env.client.workflow.getHandle(handle.workflowId);
      // (the close and the continue-as-new are separate steps: wait for the run of the current
      // period to be the current run; describe() is a server call, while a query needs a workflow
      // task, which the time-skipping server was seen to hold back for ~90 s.)
      await waitFor(async () => {
        const d = await latest.describe();
        return d.runId !== firstRunId && d.status.name === 'RUNNING';
      }, 'the run of the current period');
      expect(systems.billingPeriods.closed).toHaveLength(overdue); // and it waits: no early close

      // Time passes (skipped) to just after the next boundary: exactly that one is crossed. (A fixed
      // "35 days" crossed two when run in late November: 30 Nov and 31 Dec are 31 days apart.)
      await env.sleep(Date.parse(due.at(-1)!) - now + 3_600_000);
      const later = await env.currentTimeMs();
      const dueLater = expectedEnds(input.startFrom, 31, input.timezone, later);
      await waitFor(() => systems.billingPeriods.closed.length === dueLater.length - 1, 'the next period to close');
      expect(dueLater.length - 1).toBe(overdue + 1);

      // Contiguous periods, keyed by the account's workflow id and the period start.
      const starts = [new Date(Date.parse(input.startFrom)).toISOString(), ...dueLater.slice(0, -2)];
      expect(systems.billingPeriods.closed).toEqual(
        dueLater.slice(0, -1).map((periodEnd, i) => expect.objectContaining({ billingAccountId, periodStart: starts[i], periodEnd, idempotencyKey: `bill-cycle-${billingAccountId}:closePeriod:${starts[i]}` })),
      );

      // One run per period: the first run continued as new, the latest run is another one.
      expect((await env.client.workflow.getHandle(handle.workflowId, firstRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');
      expect((await latest.describe()).runId).not.toBe(firstRunId);

      // The account closes mid-period: the period is closed at that moment and the cycle ends.
      await latest.signal(accountClosedSignal);
      const result = await latest.result();
      const last = systems.billingPeriods.closed.at(-1)!;
      expect(result).toMatchObject({ billingAccountId, closedAt: last.periodEnd, lastPeriod: { periodStart: dueLater.at(-2), periodEnd: last.periodEnd } });
      expect(Date.parse(last.periodEnd)).toBeLessThan(Date.parse(dueLater.at(-1)!));
      expect(systems.billingPeriods.closed).toHaveLength(overdue + 2);
    });
  });

  it('rejects an unknown time zone with a message naming the field', async () => {
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    const input = { billingAccountId: uniqueId('ba'), billCycleDay: 15, timezone: 'Mars/Olympus', startFrom: '2024-01-01T00:00:00Z' };

    const error = await worker.runUntil((async () => (await startBillCycle(env.client, input, { taskQueue })).result().catch((e: unknown) => e))());
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('INVALID_BILL_CYCLE_INPUT');
    expect(cause.message).toMatch(/timezone must be an IANA zone/);
    expect(systems.billingPeriods.calls).toBe(0);
  });
});
