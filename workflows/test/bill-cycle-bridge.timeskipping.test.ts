// The bill-cycle bridge (src/bill-cycle-bridge.ts) on real NATS JetStream and Temporal's
// time-skipping test server: subscribers' `billingaccount.created` of a postpaid account starts its
// billCycleWorkflow (from the start of the cycle period it opened in), a second delivery joins it,
// a prepaid account gets none, `billingaccount.closed` ends it with the final period closed at the
// event's closedAt; events it cannot read are logged and acknowledged and the next ones handled.
// Before, nothing started a bill cycle: accounts were billed only by an operator's bill run.
import { Writable } from 'node:stream';
import { defaultPayloadConverter, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { connectMessaging, TEST_NATS_URL, type Messaging } from '@ledgerline/platform';
import { startBillCycleBridge } from '../src/bill-cycle-bridge';
import { billCycleWorkflowId, periodContaining } from '../src/domain/bill-cycle';
import type { BillCycleInput, BillCycleResult } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
let messaging: Messaging;
beforeAll(async () => {
  [env, messaging] = await Promise.all([createTimeSkippingEnv(), connectMessaging(TEST_NATS_URL, 'bill-cycle-bridge-test'), workflowBundle()]);
}, 60_000);
afterAll(async () => {
  await messaging?.nc.drain().catch(() => undefined);
  await env?.teardown();
});

const TZ = 'Europe/Berlin';
const created = (id: string, time: number, over: Record<string, unknown> = {}) =>
  JSON.stringify(
    createCloudEvent({
      source: 'ledgerline/subscribers',
      type: EVENTS.billingAccountCreated.type,
      subject: id,
      time: new Date(time),
      key: [id],
      data: { billingAccountId: id, customerId: `cus_${id}`, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: TZ, creditLimit: null, autopay: false, ...over },
    }),
  );
const closed = (id: string, closedAt: number) =>
  JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountClosed.type, subject: id, time: new Date(closedAt), key: [id, 'closed'], data: { billingAccountId: id, customerId: `cus_${id}`, closedAt: new Date(closedAt).toISOString(), reason: 'Moving abroad' } }));
const publish = (subject: string, payload: string) => messaging.js.publish(subject, payload);

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The workflow's status, or null when Temporal has none with that id. */
async function status(accountId: string): Promise<{ status: string; runId: string } | null> {
  try {
    const d = await env.client.workflow.getHandle(billCycleWorkflowId(accountId)).describe();
    return { status: d.status.name, runId: d.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** Every run of the workflow id, first run first, with the input each started with (the history, not a query). */
async function startedWith(accountId: string): Promise<BillCycleInput> {
  const history = await env.client.workflow.getHandle(billCycleWorkflowId(accountId)).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return defaultPayloadConverter.fromPayload<BillCycleInput>(started!.input!.payloads![0]!);
}

describe('bill-cycle bridge: subscribers account events → billCycleWorkflow', () => {
  it('starts one cycle per postpaid account opened (twice delivered: one), none for prepaid, ends it on closed at closedAt; unreadable events are acknowledged', async () => {
    const run = uniqueId('bcb');
    const A = `acc_${run}_a`;
    const B = `acc_${run}_b`;
    const P = `acc_${run}_prepaid`;
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const logs: { level: number; msg: string; problem?: string; billingAccountId?: string; payload?: string }[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logs.push(JSON.parse(String(chunk))), done()) }));
    const stop = await startBillCycleBridge({ messaging, client: env.client, taskQueue, logger, name: 'test', suffix: run.replace(/-/g, '_'), throwaway: true });
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    try {
      await worker.runUntil(async () => {
        const openedAt = await env.currentTimeMs();
        // Unreadable first: not JSON, a CloudEvent without a usable bill-cycle day, one without the account.
        // Each names this run: the bridge reads every run's events on the shared stream (other test files, copies of this one).
        await publish(EVENTS.billingAccountCreated.subject, `not json at all (${run})`);
        await publish(EVENTS.billingAccountCreated.subject, created(`acc_${run}_bad`, openedAt, { billCycleDay: 0 }));
        await publish(EVENTS.billingAccountClosed.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountClosed.type, subject: `acc_${run}_x`, time: new Date(openedAt), key: [`acc_${run}_x`], data: { closedAt: 'yesterday' } })));
        // Then the real ones: A twice (a redelivery, or the same event again), a prepaid account, B.
        await publish(EVENTS.billingAccountCreated.subject, created(A, openedAt));
        await publish(EVENTS.billingAccountCreated.subject, created(A, openedAt));
        await publish(EVENTS.billingAccountCreated.subject, created(P, openedAt, { paymentMode: 'PREPAID' }));
        await publish(EVENTS.billingAccountCreated.subject, created(B, openedAt, { billCycleDay: 15, timezone: 'America/New_York' }));
        // One ordered consumer: once B runs, everything before it was handled.
        await until(async () => (await status(B))?.status === 'RUNNING', "B's bill cycle");

        const a = await status(A);
        expect(a?.status).toBe('RUNNING');
        // The right input: the account's day and zone, from the start of the cycle period it opened in.
        expect(await startedWith(A)).toEqual({ billingAccountId: A, billCycleDay: 1, timezone: TZ, startFrom: periodContaining(new Date(openedAt), 1, TZ).periodStart });
        expect(await startedWith(B)).toEqual({ billingAccountId: B, billCycleDay: 15, timezone: 'America/New_York', startFrom: periodContaining(new Date(openedAt), 15, 'America/New_York').periodStart });
        // Delivered twice, one workflow: the first run is still the only one.
        const history = await env.client.workflow.getHandle(billCycleWorkflowId(A)).fetchHistory();
        expect(history.events?.filter((e) => e.workflowExecutionStartedEventAttributes)).toHaveLength(1);
        // Prepaid: no cycle (bill runs bill postpaid accounts only).
        expect(await status(P)).toBeNull();
        expect(await status(`acc_${run}_bad`)).toBeNull();
        // The unreadable events were logged (and acknowledged: B came after them). Only this run's: other runs
        // publish unreadable ones on the same subjects, which the bridge logs too.
        const unreadable = logs.filter((l) => /cannot be read/.test(l.msg) && l.payload?.includes(run));
        expect(unreadable.map((l) => l.problem)).toEqual([expect.stringMatching(/JSON/), expect.stringMatching(/billCycleDay/), expect.stringMatching(/billingAccountId/)]);

        // A closes: the final period ends at the event's closedAt (not when the signal arrives).
        const closedAt = (await env.currentTimeMs()) - 1000;
        await publish(EVENTS.billingAccountClosed.subject, closed(A, closedAt));
        await publish(EVENTS.billingAccountClosed.subject, closed(A, closedAt)); // again: ignored by the run, or (ended) logged and acknowledged
        await publish(EVENTS.billingAccountClosed.subject, closed(P, closedAt)); // no cycle: logged and acknowledged
        await until(async () => (await status(A))?.status === 'COMPLETED', "A's cycle to end");
        await publish(EVENTS.billingAccountCreated.subject, created(A, openedAt)); // after its cycle ended: not started again
        await publish(EVENTS.billingAccountClosed.subject, closed(B, closedAt));
        await until(async () => (await status(B))?.status === 'COMPLETED', "B's cycle to end");

        expect(await status(A)).toEqual({ status: 'COMPLETED', runId: a!.runId });
        const result: BillCycleResult = await env.client.workflow.getHandle(billCycleWorkflowId(A)).result();
        const start = periodContaining(new Date(openedAt), 1, TZ).periodStart;
        expect(result).toEqual({ billingAccountId: A, closedAt: new Date(closedAt).toISOString(), lastPeriod: { periodStart: start, periodEnd: new Date(closedAt).toISOString() } });
        expect(systems.billingPeriods.closed.filter((c) => c.billingAccountId === A).map(({ periodStart, periodEnd, final }) => ({ periodStart, periodEnd, final }))).toEqual([
          { periodStart: start, periodEnd: new Date(closedAt).toISOString(), final: true },
        ]);
        expect(logs.filter((l) => l.billingAccountId === P && /no running bill cycle/.test(l.msg))).toHaveLength(1);
        expect(logs.filter((l) => l.billingAccountId === A && /not started again/.test(l.msg))).toHaveLength(1);
      });
    } finally {
      await stop();
    }
  }, 30_000);
});
