// Patch `bill-cycle-close-rounds-continue-as-new` (workflows/bill-cycle.ts): a period's close refused for days is tried
// in hourly rounds, ~264 history events a day; before the patch the run never continued as new inside those rounds and
// Temporal terminates a history at 51,200 events (~194 days). Now a run whose history passes CLOSE_ROUNDS_HISTORY_LIMIT
// continues as new between two rounds, carrying the close being tried, its round and the closing time signalled so far.
// A run of the code before it (fixtures/bill-cycle-before-close-rounds-continue-as-new.ts), its history past the limit,
// replays on the current code.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities';
import { startBillCycle } from '../src/client';
import { closeRefusalKind, periodContaining } from '../src/domain/bill-cycle';
import { DomainError } from '../src/errors';
import type { BillingPeriodsClient, ClosePeriodRequest, ClosedPeriodResult } from '../src/ports';
import { accountClosedAtSignal, CLOSE_ROUNDS_HISTORY_LIMIT, type BillCycleInput } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, TEST_CALL_TIMEOUT_MS, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
}, 120_000);
afterAll(async () => env?.teardown());

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Hourly rounds of a refused close: about 264 events a day, so the limit is passed within this. */
const REFUSED_FOR_MS = 10 * DAY_MS;

/** invoicing refusing every close (a refusal that settles by itself: WAIT) until told to take them; the closes it took. */
class Invoicing implements BillingPeriodsClient {
  refusing = true;
  /** While refusing, which closes are refused. */
  refuses: (req: ClosePeriodRequest) => boolean = () => true;
  readonly refused: ClosePeriodRequest[] = [];
  readonly closes: ClosePeriodRequest[] = [];
  async closePeriod(req: ClosePeriodRequest): Promise<ClosedPeriodResult> {
    if (this.refusing && this.refuses(req)) {
      this.refused.push(req);
      throw new DomainError('PLAN_VERSION_UNKNOWN', 'the plan version is not known yet', { retryable: true, details: { refusal: closeRefusalKind('PLAN_VERSION_UNKNOWN') } });
    }
    this.closes.push(req);
    return { periodId: `bp_${req.billingAccountId}_${req.periodStart}` };
  }
}

type History = Awaited<ReturnType<ReturnType<typeof env.client.workflow.getHandle>['fetchHistory']>>;

async function runOn(bundle: 'before' | 'current', invoicing: Invoicing, body: (taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = uniqueId('bill-cycle-can');
  const workflowBundleOf = bundle === 'current' ? await workflowBundle() : await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/bill-cycle-before-close-rounds-continue-as-new.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundleOf,
    activities: createActivities({ ...fakeSystems(), billingPeriods: invoicing }, { callTimeoutMs: TEST_CALL_TIMEOUT_MS }),
    shutdownGraceTime: '1 second',
  });
  await worker.runUntil(() => body(taskQueue));
}

/** Every run of the workflow, first to latest: status, input and history. */
async function runsOf(workflowId: string, firstRunId: string) {
  const runs: { status: string; input: BillCycleInput; history: History }[] = [];
  for (let runId: string | undefined = firstRunId; runId; ) {
    const history: History = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    const last = history.events!.at(-1)!;
    const input = JSON.parse(Buffer.from(started.input!.payloads![0]!.data!).toString()) as BillCycleInput;
    const next = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    runs.push({ status: next ? 'CONTINUED_AS_NEW' : (await env.client.workflow.getHandle(workflowId, runId).describe()).status.name, input, history });
    runId = next;
  }
  return runs;
}

/**
 * A cycle whose period (the one containing now) ends and whose close is then refused for REFUSED_FOR_MS (a day into
 * it, `closedAt` signalled when asked), then taken. The closes invoicing took and the runs.
 */
async function refusedForDays(bundle: 'before' | 'current', opts: { signalClosedAt?: boolean } = {}) {
  const invoicing = new Invoicing();
  const acc = uniqueId('ba');
  const p1 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
  const closedAt = new Date(Date.parse(p1.periodEnd) + HOUR_MS).toISOString();
  let out: { runs: Awaited<ReturnType<typeof runsOf>>; result: unknown } | undefined;
  await runOn(bundle, invoicing, async (taskQueue) => {
    const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
    await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + DAY_MS);
    if (opts.signalClosedAt) await env.client.workflow.getHandle(handle.workflowId).signal(accountClosedAtSignal, { closedAt });
    await env.sleep(REFUSED_FOR_MS - DAY_MS);
    expect(invoicing.closes).toEqual([]);
    // Every refused close was the same period's, asked the same way, whichever run asked.
    expect(new Set(invoicing.refused.map((r) => `${r.periodStart}|${r.periodEnd}|${r.final === true}|${r.idempotencyKey}`)).size).toBe(1);
    expect(invoicing.refused[0]).toMatchObject({ periodStart: p1.periodStart, periodEnd: p1.periodEnd });
    invoicing.refusing = false;
    await env.sleep(2 * HOUR_MS);
    const latest = await env.client.workflow.getHandle(handle.workflowId).describe();
    const result = opts.signalClosedAt && latest.status.name === 'COMPLETED' ? await env.client.workflow.getHandle(handle.workflowId).result() : undefined;
    out = { runs: await runsOf(handle.workflowId, handle.firstExecutionRunId), result };
    await env.client.workflow.getHandle(handle.workflowId).terminate('test over').catch(() => undefined);
  });
  return { ...out!, closes: invoicing.closes.map((c) => [c.periodStart, c.periodEnd, c.final === true]), p1, closedAt };
}

describe('bill-cycle patch bill-cycle-close-rounds-continue-as-new', () => {
  it('a close refused for days continues as new past the history limit, the next run retries the same period and closes it once invoicing takes it', async () => {
    const { runs, closes, p1 } = await refusedForDays('current');
    expect(runs.length).toBeGreaterThanOrEqual(3); // at least one continue-as-new in the rounds, then the next period's run
    const inRounds = runs.slice(0, -1);
    for (const run of inRounds) expect(run.status).toBe('CONTINUED_AS_NEW');
    for (const run of inRounds.slice(0, -1)) expect(run.history.events!.length).toBeLessThan(CLOSE_ROUNDS_HISTORY_LIMIT + 50);
    // The runs continued in the rounds keep the period (the input's) and close it; then the next period's run.
    for (const run of inRounds) expect(run.input).toMatchObject({ startFrom: p1.periodStart });
    expect(runs[1]!.input.closing).toMatchObject({ step: 'period', period: p1, final: false });
    expect(runs[1]!.input.closing!.round).toBeGreaterThan(100);
    expect(closes).toEqual([[p1.periodStart, p1.periodEnd, false]]);
    const next = runs.at(-1)!;
    expect(next.status).toBe('RUNNING');
    expect(next.input.startFrom).toBe(p1.periodEnd);
    expect(next.input.closing).toBeUndefined();
    for (const run of runs) await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, run.history);
  }, 120_000);

  it('a closedAt signalled during the rounds is carried across the continue-as-new: the final stub ends at it', async () => {
    const { runs, closes, result, p1, closedAt } = await refusedForDays('current', { signalClosedAt: true });
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.status).toBe('CONTINUED_AS_NEW');
    expect(runs[1]!.input.closing).toMatchObject({ closedAt, closedWhileClosing: true });
    expect(runs.at(-1)!.status).toBe('COMPLETED');
    expect(closes).toEqual([[p1.periodStart, p1.periodEnd, false], [p1.periodEnd, closedAt, true]]);
    expect(result).toMatchObject({ closedAt, lastPeriod: { periodStart: p1.periodEnd, periodEnd: closedAt } });
    for (const run of runs) await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, run.history);
  }, 120_000);

  it('a final stub refused for days continues as new as the last close: the next run closes it and the cycle ends at closedAt', async () => {
    const invoicing = new Invoicing();
    const acc = uniqueId('ba');
    const p1 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
    const closedAt = new Date(Date.parse(p1.periodEnd) + HOUR_MS).toISOString();
    await runOn('current', invoicing, async (taskQueue) => {
      const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + 2 * HOUR_MS);
      await env.client.workflow.getHandle(handle.workflowId).signal(accountClosedAtSignal, { closedAt });
      invoicing.refuses = (req) => req.final === true; // the period's close is taken at the next round, the stub is not
      await env.sleep(REFUSED_FOR_MS);
      expect(invoicing.closes.map((c) => [c.periodStart, c.periodEnd, c.final === true])).toEqual([[p1.periodStart, p1.periodEnd, false]]);
      invoicing.refusing = false;
      const result = await env.client.workflow.getHandle(handle.workflowId).result();
      expect(result).toMatchObject({ closedAt, lastPeriod: { periodStart: p1.periodEnd, periodEnd: closedAt } });
      expect(invoicing.closes.map((c) => [c.periodStart, c.periodEnd, c.final === true])).toEqual([[p1.periodStart, p1.periodEnd, false], [p1.periodEnd, closedAt, true]]);
      const runs = await runsOf(handle.workflowId, handle.firstExecutionRunId);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(runs[1]!.input.closing).toMatchObject({ step: 'last', period: { periodStart: p1.periodEnd, periodEnd: closedAt }, final: true, closedAt });
      expect(runs.at(-1)!.status).toBe('COMPLETED');
      for (const run of runs) await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, run.history);
    });
  }, 120_000);

  it('a run of the code before the patch (no continue-as-new, its history past the limit) replays on the current code', async () => {
    const { runs, closes, p1 } = await refusedForDays('before');
    expect(runs[0]!.status).toBe('CONTINUED_AS_NEW'); // to the next period, only once the close was taken
    expect(runs[0]!.history.events!.length).toBeGreaterThan(CLOSE_ROUNDS_HISTORY_LIMIT);
    expect(runs[1]!.input.startFrom).toBe(p1.periodEnd);
    expect(closes).toEqual([[p1.periodStart, p1.periodEnd, false]]);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, runs[0]!.history);
  }, 120_000);
});
