// Review: an account closed while its bill cycle is catching up must still be billed period by
// period. billCycleWorkflow closes the period that is due and, when `accountClosed` has come,
// bills a "final stub" from that period's end straight to the closing time. If the signal came
// while the workflow was behind (a worker outage of more than a cycle, or a start from a past
// date), that stub spans one or more whole bill-cycle boundaries: two (or more) months end up in
// one "period", so one invoice for the account covers several cycles and the periods in between
// are never closed on their own. One invoice per account per period (ARCHITECTURE) means every
// closed period lies within one cycle: no closed period may cross a bill-cycle boundary.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billCycleWorkflowId, nextPeriodEnd } from '../src/domain/bill-cycle';
import { accountClosedSignal, type billCycleWorkflow } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

const DAY_MS = 86_400_000;

describe('review3: billCycleWorkflow closed while catching up', () => {
  it('closes every overdue period on its own, then a stub from the last boundary to the closing time', async () => {
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const billingAccountId = uniqueId('ba');
    const tz = 'Europe/Berlin';
    const input = { billingAccountId, billCycleDay: 1, timezone: tz, startFrom: new Date((await env.currentTimeMs()) - 75 * DAY_MS).toISOString() };
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });

    const result = await worker.runUntil(async () => {
      // The account is closed while its cycle is ~2 periods behind (the signal reaches the run that
      // is catching up; signalWithStart makes that deterministic).
      const handle = await env.client.workflow.signalWithStart<typeof billCycleWorkflow>('billCycleWorkflow', {
        workflowId: billCycleWorkflowId(billingAccountId),
        taskQueue,
        args: [input],
        signal: accountClosedSignal,
        signalArgs: [],
      });
      return handle.result();
    });

    const closed = systems.billingPeriods.closed.map((p) => ({ periodStart: p.periodStart, periodEnd: p.periodEnd }));
    // Each closed period must end no later than the bill-cycle boundary after its start.
    const crossing = closed.filter((p) => Date.parse(p.periodEnd) > Date.parse(nextPeriodEnd(p.periodStart, input.billCycleDay, tz)));
    expect(crossing, `no closed period may span a bill-cycle boundary (one invoice per account per period); closed: ${JSON.stringify(closed)}, result: ${JSON.stringify(result)}`).toEqual([]);
    // And the periods chain without gaps from the start to the closing time.
    expect(closed[0]!.periodStart).toBe(new Date(Date.parse(input.startFrom)).toISOString());
    for (let i = 1; i < closed.length; i++) expect(closed[i]!.periodStart).toBe(closed[i - 1]!.periodEnd);
    expect(closed.at(-1)!.periodEnd).toBe(result.closedAt);
  });
});
