// The network keeps refusing the dunning's bar: the suspension is still retried (each retry tries the
// bar again) but no longer silently (patch `dunning-step-retries-visible`): rounds of attempts, each
// failed round shown in the `dunningStatus` query (`stuck`: step, failures, since, last failure) and,
// from STUCK_ALERT_AFTER_FAILURES failures on, logged as a warning an alert can match. Once the
// network takes the bar, `stuck` clears and the dunning goes on (SUSPENDED, then PAID on payment).
// The worker's Prometheus endpoint (WORKER_METRICS_ADDRESS, src/worker-metrics.ts) counts the failed
// rounds and the dunning that became stuck and then got through.
// Activities are fakes; the dunning workflow runs on the time-skipping server.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type LogEntry, type WorkflowBundle } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvoiceStatus, InvoicingActivities } from '../src/activities/invoicing';
import { dunningStatusQuery, dunningWorkflow, dunningWorkflowId, paymentRecordedSignal, STUCK_ALERT_AFTER_FAILURES, SUSPEND_ATTEMPTS_PER_ROUND } from '../src/workflows/dunning';
import { metricsTelemetry } from '../src/worker-metrics';
import { createTimeSkippingEnv, uniqueId } from './support/env';

/** A port nothing listens on now (the metrics exporter binds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of a counter on the Prometheus text page (the sum over its label sets), or undefined. */
function counter(page: string, name: string): number | undefined {
  const values = page.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

const warnings: LogEntry[] = [];
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let metricsAddress: string;
beforeAll(async () => {
  metricsAddress = `127.0.0.1:${await freePort()}`;
  // The workflow's log goes to the runtime's logger: keep the dunning's warnings, drop the rest (createTimeSkippingEnv's quiet logs).
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => void (entry.message.startsWith('dunning:') && warnings.push(entry))),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} }, ...metricsTelemetry(metricsAddress).telemetryOptions },
  });
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
});
afterAll(async () => {
  await env?.teardown();
});

describe('dunning: a bar the network keeps refusing', () => {
  it('is retried in rounds, shown in the query and logged after N failures; taken at last, the dunning goes on', async () => {
    let status: InvoiceStatus = { invoiceId: 'inv_bar', billingAccountId: 'ba_bar', state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
    let refusing = true;
    const calls = { suspend: 0, restore: 0 };
    const activities = {
      invoiceStatus: async () => ({ ...status }),
      addLateFee: async () => {},
      sendReminder: async () => {},
      sendDunningNotice: async () => {},
      suspendAccountLines: async () => {
        calls.suspend += 1;
        if (refusing) throw ApplicationFailure.retryable('Could not bar line(s) line_1 yet: the network refused it; retried', 'ORDER_ALREADY_OPEN');
        return { lines: 1, lineIds: ['line_1'] };
      },
      restoreAccountLines: async () => {
        calls.restore += 1;
        return { lines: 1, lineIds: ['line_1'] };
      },
    } as unknown as Partial<InvoicingActivities>;
    const taskQueue = uniqueId('dunning-bar');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities, shutdownGraceTime: '1 second' });
    const out = await worker.runUntil(async () => {
      const startedAt = await env.currentTimeMs();
      const dueDate = new Date(startedAt - 15 * 86_400_000).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, {
        taskQueue,
        workflowId: dunningWorkflowId(`inv_${taskQueue}`),
        args: [{ invoiceId: 'inv_bar', billingAccountId: 'ba_bar', dueDate, policy: { reminderDays: [], suspendAfterDays: 14 } }],
      });
      await env.sleep('1 hour');
      const stuck = await handle.query(dunningStatusQuery);
      const triedWhileStuck = calls.suspend;
      refusing = false;
      await env.sleep('35 minutes'); // the next round takes the bar
      const barred = await handle.query(dunningStatusQuery);
      status = { ...status, state: 'SETTLED', amountDue: '0' };
      await handle.signal(paymentRecordedSignal);
      const result = await handle.result();
      return { startedAt, stuck, triedWhileStuck, barred, result, history: await handle.fetchHistory() };
    });

    expect(out.stuck).toMatchObject({ phase: 'WAITING', suspended: false, stuck: { step: 'SUSPEND', lastFailure: expect.stringContaining('the network refused it') } });
    expect(out.stuck.stuck!.failures).toBeGreaterThanOrEqual(STUCK_ALERT_AFTER_FAILURES);
    expect(out.stuck.stuck!.failures % SUSPEND_ATTEMPTS_PER_ROUND).toBe(0);
    expect(out.stuck.stuck!.failures).toBeLessThanOrEqual(out.triedWhileStuck);
    expect(Date.parse(out.stuck.stuck!.since) - out.startedAt).toBeLessThan(5 * 60_000); // the first round failed within minutes
    // Still retried (not given up): rounds 10, 20, 40 minutes apart in the hour.
    expect(out.triedWhileStuck).toBeGreaterThanOrEqual(3 * SUSPEND_ATTEMPTS_PER_ROUND);
    // The alert: a warning per failed round from N failures on, with what an operator needs.
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]!.message).toBe('dunning: the suspension keeps failing');
    expect(warnings[0]!.meta).toMatchObject({ invoiceId: 'inv_bar', billingAccountId: 'ba_bar', failures: STUCK_ALERT_AFTER_FAILURES, lastFailure: expect.stringContaining('refused') });

    expect(out.barred).toMatchObject({ phase: 'SUSPENDED', suspended: true, stuck: null, barredLineIds: ['line_1'] });
    expect(out.result).toMatchObject({ phase: 'PAID', stepsDone: ['SUSPEND', 'RESTORE'] });
    await Worker.runReplayHistory({ workflowBundle: bundle }, out.history);

    // What the worker's /metrics says: every failed round, the dunning stuck once and through once (a replay adds nothing).
    const page = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    expect({
      failedRounds: counter(page, 'ledgerline_dunning_suspension_failed_rounds_total'),
      stuck: counter(page, 'ledgerline_dunning_suspensions_stuck_total'),
      unstuck: counter(page, 'ledgerline_dunning_suspensions_unstuck_total'),
      temporalWorkflowsCompleted: (counter(page, 'temporal_workflow_completed_total') ?? 0) >= 1,
    }, page.slice(0, 2000)).toEqual({ failedRounds: out.stuck.stuck!.failures / SUSPEND_ATTEMPTS_PER_ROUND, stuck: 1, unstuck: 1, temporalWorkflowsCompleted: true });
  });
});
