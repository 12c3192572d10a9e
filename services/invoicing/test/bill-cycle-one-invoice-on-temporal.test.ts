// One invoice per account and period, whichever way the period is closed: the bill-cycle workflow
// (started for each postpaid account by the worker's bill-cycle bridge, workflows/src/bill-cycle-bridge.ts)
// next to an operator's bill run for the same cycle date, and next to invoicing's own billing of the
// final period when it consumes `billingaccount.closed` (application/close-account.ts), in both orders.
// The workflow runs on Temporal's time-skipping test server and closes its periods in this service
// through the worker's own GraphQL adapter (as bill-cycle-change-on-temporal.test.ts); the bill run
// and the closed account are invoicing's use cases on the real PostgreSQL schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { Em } from '@ledgerline/platform';
import { startBillCycle } from '../../../workflows/src/client';
import { GraphqlBillingPeriodsClient } from '../../../workflows/src/adapters/graphql';
import { billCycleCommandOf } from '../../../workflows/src/bill-cycle-bridge';
import { nextPeriodEnd, periodContaining } from '../../../workflows/src/domain/bill-cycle';
import { accountClosedAtSignal } from '../../../workflows/src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from '../../../workflows/test/support/env';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { billClosedAccount } from '../src/application/close-account';
import { rows } from '../src/application/sql';
import { account, startHarness, subscribe, type Harness } from './support';

let env: TestWorkflowEnvironment;
let h: Harness;
const DAY_MS = 86_400_000;
const TZ = 'Europe/Berlin';
const deps = { catalog: null };

/** The worker's GraphQL adapter, answered by the service in this process once the period has ended. */
const billingPeriods = new GraphqlBillingPeriodsClient({
  url: 'http://invoicing.test/graphql',
  fetch: (async (_url: string, init: { body: string }) => {
    const { query, variables } = JSON.parse(init.body);
    const end = new Date(Date.parse(variables.input.periodEnd) + 60_000);
    if (end > h.clock.now()) h.clock.set(end);
    const r = await h.svc.request(query, variables);
    return new Response(JSON.stringify(r), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch,
});

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
  h = await startHarness(new Date(await env.currentTimeMs()).toISOString(), { consume: false, runBillRuns: false });
}, 120_000);

afterAll(async () => {
  await h?.svc.close();
  await env?.teardown();
});

const em = () => h.svc.runtime.orm.em.fork() as unknown as Em;

/** Live invoices of an account: period and kind. */
async function invoices(acc: string): Promise<{ from: string; to: string; kind: string }[]> {
  const r = await rows<{ period_start: Date; period_end: Date; kind: string }>(em(), 'select period_start, period_end, kind from invoice where billing_account_id = ? and voided_at is null order by period_start, period_end', [acc]);
  return r.map((i) => ({ from: new Date(i.period_start).toISOString(), to: new Date(i.period_end).toISOString(), kind: i.kind }));
}

/**
 * The result of a cycle once it has ended, read from its history: `result()` would let the test
 * server skip time (to the other cycles' next period ends) while it waits, even for a run that has ended.
 */
async function ended(handle: WorkflowHandle): Promise<unknown> {
  const deadline = Date.now() + 10_000;
  while ((await handle.describe()).status.name === 'RUNNING') {
    if (Date.now() > deadline) throw new Error('the cycle did not end');
    await new Promise((r) => setTimeout(r, 50));
  }
  const history = await handle.fetchHistory();
  const done = history.events?.at(-1)?.workflowExecutionCompletedEventAttributes;
  return done?.result?.payloads?.[0] ? defaultPayloadConverter.fromPayload(done.result.payloads[0]) : undefined;
}

/** An operator's bill run of the cycle date (`ledgerline billrun start`), every batch processed. */
async function billRun(cycleDate: string): Promise<void> {
  const now = h.clock.now();
  const { run } = await h.svc.runtime.orm.em.fork().transactional((e) => startBillRun(e as unknown as Em, { cycleDate, batchSize: 10, driver: 'SERVICE', now }));
  while (await h.svc.runtime.orm.em.fork().transactional((e) => processBillRunBatch(e as unknown as Em, run.id, null, deps, now)));
}

describe('bill-cycle workflow beside bill runs and invoicing\'s own close of an account', () => {
  it('one invoice per account and period: bill run before or after the workflow closes the period; one final invoice whether invoicing or the workflow closes the account first', async () => {
    const taskQueue = uniqueId('bill-cycle-one-invoice');
    const run = uniqueId('x').slice(2);
    const [runThenCycle, cycleThenRun, invoicingFirst, workflowFirst] = ['rc', 'cr', 'if', 'wf'].map((k) => `acc_1inv_${k}_${run}`) as [string, string, string, string];
    const now = await env.currentTimeMs();
    const p1 = periodContaining(new Date(now), 1, TZ);
    const p2End = nextPeriodEnd(p1.periodEnd, 1, TZ);
    // The cycle date of p1's end (local midnight of the 1st in Berlin).
    const cycleDate = new Date(Date.parse(p1.periodEnd) + 12 * 3_600_000).toISOString().slice(0, 10);
    h.clock.set(new Date(p1.periodStart));
    for (const acc of [runThenCycle, cycleThenRun, invoicingFirst, workflowFirst]) {
      await account(h, acc, { billCycleDay: 1, timezone: TZ });
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    }
    // The cycle each gets from the bridge: what the bridge reads from subscribers' created event.
    const inputOf = (acc: string) => {
      const c = billCycleCommandOf(EVENTS.billingAccountCreated.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: acc, time: new Date(now), key: [acc], data: { billingAccountId: acc, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: TZ } })));
      if (c.kind !== 'start') throw new Error(`expected a start, got ${JSON.stringify(c)}`);
      expect(c.input.startFrom).toBe(p1.periodStart);
      return c.input;
    };

    const systems = { ...fakeSystems(), billingPeriods } as unknown as ReturnType<typeof fakeSystems>;
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    await worker.runUntil(async () => {
      // Three cycles run through p1's end and close it; then the operator's bill run of that cycle date.
      const handles = Object.fromEntries(await Promise.all([cycleThenRun, invoicingFirst, workflowFirst].map(async (acc) => [acc, await startBillCycle(env.client, inputOf(acc), { taskQueue })] as const)));
      await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + DAY_MS);
      expect(await invoices(cycleThenRun)).toEqual([{ from: p1.periodStart, to: p1.periodEnd, kind: 'PERIOD' }]);
      expect(await invoices(runThenCycle)).toEqual([]);
      await billRun(cycleDate);
      // The other account: the bill run billed p1 first; its cycle (started late) closes p1 afterwards.
      expect(await invoices(runThenCycle)).toEqual([{ from: p1.periodStart, to: p1.periodEnd, kind: 'PERIOD' }]);
      const late = await startBillCycle(env.client, inputOf(runThenCycle), { taskQueue });
      await env.sleep(60_000);
      const closed = await rows<{ period_start: Date }>(em(), 'select period_start from billing_period where billing_account_id = ?', [runThenCycle]);
      expect(closed.map((r) => new Date(r.period_start).toISOString())).toEqual([p1.periodStart]);
      for (const acc of [runThenCycle, cycleThenRun, invoicingFirst, workflowFirst]) expect(await invoices(acc), acc).toEqual([{ from: p1.periodStart, to: p1.periodEnd, kind: 'PERIOD' }]);

      // Closing, in p2: subscribers' closedAt an hour ago.
      const closedAt = new Date((await env.currentTimeMs()) - 3_600_000);
      expect(closedAt.getTime()).toBeGreaterThan(Date.parse(p1.periodEnd));
      const final = { from: p1.periodEnd, to: closedAt.toISOString(), kind: 'PERIOD' };
      // Invoicing consumes billingaccount.closed first, then the bridge's signal reaches the cycle.
      h.clock.set(new Date(closedAt.getTime() + 60_000));
      const first = await h.svc.runtime.orm.em.fork().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: invoicingFirst, closedAt, now: h.clock.now() }, deps));
      expect(first.periods.map((p) => p.final)).toEqual([true]);
      await handles[invoicingFirst]!.signal(accountClosedAtSignal, { closedAt: closedAt.toISOString() });
      expect(await ended(handles[invoicingFirst]!)).toMatchObject({ closedAt: closedAt.toISOString(), lastPeriod: { periodStart: p1.periodEnd, periodEnd: closedAt.toISOString() } });
      // The other: the cycle closes the final period first, then invoicing consumes the event.
      await handles[workflowFirst]!.signal(accountClosedAtSignal, { closedAt: closedAt.toISOString() });
      await ended(handles[workflowFirst]!);
      const second = await h.svc.runtime.orm.em.fork().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: workflowFirst, closedAt, now: h.clock.now() }, deps));
      expect(second.periods).toEqual([]);
      for (const acc of [invoicingFirst, workflowFirst]) {
        expect(await invoices(acc), acc).toEqual([{ from: p1.periodStart, to: p1.periodEnd, kind: 'PERIOD' }, final]);
        const [a] = await rows<{ status: string; closed_at: Date }>(em(), 'select status, closed_at from billing_account where id = ?', [acc]);
        expect({ status: a!.status, closedAt: new Date(a!.closed_at).toISOString() }).toEqual({ status: 'CLOSED', closedAt: closedAt.toISOString() });
      }
      // The accounts still open keep their cycle: p2 ends at p2End.
      expect((await late.describe()).status.name).toBe('RUNNING');
      expect(Date.parse(p2End)).toBeGreaterThan(closedAt.getTime());
    });
  }, 120_000);
});
