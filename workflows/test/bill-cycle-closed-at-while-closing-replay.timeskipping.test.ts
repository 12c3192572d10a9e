// Patch `bill-cycle-closed-at-while-closing` (workflows/bill-cycle.ts): a signal with `closedAt` reaching a run whose
// period's close is being refused in rounds closes at `closedAt`, no longer at the signal's time. Here the run is
// catching up (its period ended two cycles ago) and the account closed an hour into the next period: the code before
// the patch (fixtures/bill-cycle-before-closed-at-while-closing.ts) closed that next period whole and a final stub up
// to the signal (three closes), the current code closes a final stub up to `closedAt` (two). A history of either
// replays on the current code.
// The behaviour itself against real invoicing: services/invoicing/test/bill-cycle-closed-at-on-temporal.test.ts.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities';
import { startBillCycle } from '../src/client';
import { ACCOUNT_UNKNOWN, closeRefusalKind, periodContaining } from '../src/domain/bill-cycle';
import { DomainError } from '../src/errors';
import type { BillingPeriodsClient, ClosePeriodRequest, ClosedPeriodResult } from '../src/ports';
import { accountClosedAtSignal } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, TEST_CALL_TIMEOUT_MS, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
}, 120_000);
afterAll(async () => env?.teardown());

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;

/** invoicing as the bill cycle sees it: refuses an account it does not know; the closes it took. */
class Invoicing implements BillingPeriodsClient {
  readonly known = new Set<string>();
  readonly closes: ClosePeriodRequest[] = [];
  async closePeriod(req: ClosePeriodRequest): Promise<ClosedPeriodResult> {
    if (!this.known.has(req.billingAccountId)) {
      throw new DomainError(ACCOUNT_UNKNOWN, `BillingAccount ${req.billingAccountId} does not exist`, { retryable: true, details: { refusal: closeRefusalKind(ACCOUNT_UNKNOWN) } });
    }
    this.closes.push(req);
    return { periodId: `bp_${req.billingAccountId}_${req.periodStart}` };
  }
}

async function runOn(bundle: 'before' | 'current', invoicing: Invoicing, body: (taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = uniqueId('bill-cycle-closed-at-replay');
  const workflowBundleOf = bundle === 'current' ? await workflowBundle() : await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/bill-cycle-before-closed-at-while-closing.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundleOf,
    activities: createActivities({ ...fakeSystems(), billingPeriods: invoicing }, { callTimeoutMs: TEST_CALL_TIMEOUT_MS }),
    shutdownGraceTime: '1 second',
  });
  await worker.runUntil(() => body(taskQueue));
}

/**
 * A cycle started two periods back (S to E, E to E2, E2 before now), its first close refused (account unknown) in rounds;
 * invoicing learns of the account and the signal says it closed an hour after E. The closes invoicing took, the result, the history.
 */
async function catchUpClosedWhileClosing(bundle: 'before' | 'current') {
  const invoicing = new Invoicing();
  const acc = uniqueId('ba');
  const now = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
  const second = periodContaining(new Date(Date.parse(now.periodStart) - 1), 1, TZ);
  const first = periodContaining(new Date(Date.parse(second.periodStart) - 1), 1, TZ);
  const closedAt = new Date(Date.parse(first.periodEnd) + HOUR_MS).toISOString();
  let out: { closes: [string, string, boolean][]; result: unknown; history: Awaited<ReturnType<ReturnType<typeof env.client.workflow.getHandle>['fetchHistory']>> } | undefined;
  await runOn(bundle, invoicing, async (taskQueue) => {
    const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: first.periodStart }, { taskQueue });
    await env.sleep(10 * 60_000);
    expect(invoicing.closes).toEqual([]);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    invoicing.known.add(acc);
    await handle.signal(accountClosedAtSignal, { closedAt });
    await env.sleep(HOUR_MS);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const history = await handle.fetchHistory();
    const done = history.events?.at(-1)?.workflowExecutionCompletedEventAttributes;
    out = { closes: invoicing.closes.map((c) => [c.periodStart, c.periodEnd, c.final === true]), result: defaultPayloadConverter.fromPayload(done!.result!.payloads![0]!), history };
  });
  return { ...out!, first, second, closedAt };
}

describe('bill-cycle patch bill-cycle-closed-at-while-closing', () => {
  it('a run of the code before the patch (closed at the signal: the next period whole, then a stub) replays on the current code', async () => {
    const { closes, history, first, second } = await catchUpClosedWhileClosing('before');
    expect(closes.map(([start]) => start)).toEqual([first.periodStart, first.periodEnd, second.periodEnd]); // three closes, the last a stub to the signal
    expect(closes.slice(0, 2).map(([, end, final]) => [end, final])).toEqual([[first.periodEnd, false], [second.periodEnd, false]]);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  }, 60_000);

  it('a run of the current code closes a final stub up to closedAt, and replays', async () => {
    const { closes, result, history, first, closedAt } = await catchUpClosedWhileClosing('current');
    expect(closes).toEqual([[first.periodStart, first.periodEnd, false], [first.periodEnd, closedAt, true]]);
    expect(result).toMatchObject({ closedAt, lastPeriod: { periodStart: first.periodEnd, periodEnd: closedAt } });
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  }, 60_000);
});
