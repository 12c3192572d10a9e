// Patch `bill-cycle-close-refusals-not-final` (workflows/bill-cycle.ts): closes in rounds, no refusal
// fails the cycle, and a close invoicing answers with no next period ends it. Runs of the code before it
// (fixtures/bill-cycle-before-close-rounds.ts) replay on the current code unchanged (a close answered
// "no next period" continued as new there), and runs of the current code replay too, rounds included.
// The behaviour itself against real invoicing: services/invoicing/test/bill-cycle-account-late-on-temporal.test.ts.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities';
import { startBillCycle } from '../src/client';
import { ACCOUNT_UNKNOWN, closeRefusalKind, periodContaining } from '../src/domain/bill-cycle';
import { DomainError } from '../src/errors';
import type { BillingPeriodsClient, ClosePeriodRequest, ClosedPeriodResult } from '../src/ports';
import { createTimeSkippingEnv, fakeSystems, TEST_CALL_TIMEOUT_MS, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
}, 120_000);
afterAll(async () => env?.teardown());

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;

/** invoicing as the bill cycle sees it: refuses an account it does not know, and answers no next period for a closed one. */
class Invoicing implements BillingPeriodsClient {
  readonly known = new Set<string>();
  readonly closed = new Set<string>();
  readonly calls: ClosePeriodRequest[] = [];
  async closePeriod(req: ClosePeriodRequest): Promise<ClosedPeriodResult> {
    this.calls.push(req);
    if (!this.known.has(req.billingAccountId)) {
      throw new DomainError(ACCOUNT_UNKNOWN, `BillingAccount ${req.billingAccountId} does not exist`, { retryable: true, details: { refusal: closeRefusalKind(ACCOUNT_UNKNOWN) } });
    }
    return { periodId: `bp_${req.billingAccountId}_${req.periodStart}`, nextPeriodEnd: this.closed.has(req.billingAccountId) ? null : undefined };
  }
}

async function runOn(bundle: 'before' | 'current', invoicing: Invoicing, body: (taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = uniqueId('bill-cycle-replay');
  const workflowBundleOf = bundle === 'current' ? await workflowBundle() : await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/bill-cycle-before-close-rounds.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundleOf,
    activities: createActivities({ ...fakeSystems(), billingPeriods: invoicing }, { callTimeoutMs: TEST_CALL_TIMEOUT_MS }),
    shutdownGraceTime: '1 second',
  });
  await worker.runUntil(() => body(taskQueue));
}

describe('bill-cycle patch bill-cycle-close-refusals-not-final', () => {
  it('a run of the code before the patch (closed account answered: continued as new) replays on the current code', async () => {
    const invoicing = new Invoicing();
    const acc = uniqueId('ba');
    invoicing.known.add(acc);
    invoicing.closed.add(acc);
    const p1 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
    let history: Awaited<ReturnType<ReturnType<typeof env.client.workflow.getHandle>['fetchHistory']>> | undefined;
    await runOn('before', invoicing, async (taskQueue) => {
      const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + 60_000);
      const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      history = await first.fetchHistory();
      await handle.terminate('test over');
    });
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history!);
  }, 60_000);

  it('a run of the current code: an unknown account retried in rounds, billed once known, and a closed one ended; both replay', async () => {
    const invoicing = new Invoicing();
    const acc = uniqueId('ba');
    const p1 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
    await runOn('current', invoicing, async (taskQueue) => {
      const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + 30 * 60_000);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const refused = invoicing.calls.length;
      expect(refused).toBeGreaterThanOrEqual(3 * 3); // rounds of 3 attempts: at the end, +1, +6, +21 minutes
      invoicing.known.add(acc);
      await env.sleep(2 * HOUR_MS);
      const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await first.fetchHistory());
      // invoicing closes the account on its own: the next close answers no next period, the cycle ends.
      invoicing.closed.add(acc);
      const p2 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
      await env.sleep(Date.parse(p2.periodEnd) - (await env.currentTimeMs()) + 60_000);
      const last = await handle.describe();
      expect(last.status.name).toBe('COMPLETED');
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handle.fetchHistory());
    });
  }, 60_000);
});
