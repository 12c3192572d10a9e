// The bill-cycle workflow closes a period at its end by Temporal's clock (a durable timer), and
// invoicing refuses a period that has not ended by its own clock (`closeBillingPeriod`:
// BILLING_PERIOD_NOT_ENDED, category BAD_USER_INPUT). With invoicing's clock a little behind
// Temporal's (hosts drift apart; the activity is dispatched within milliseconds of the timer), the
// refusal reached the worker as a final decision and the account's bill-cycle workflow FAILED at the
// period boundary: the period was not closed by it, no later period ever was, and the account's
// `billingaccount.closed` found no running cycle to tell. Time settles it, so the worker's client
// now retries it (the activity's back-off) and the period is closed moments later.
// Real invoicing (PostgreSQL) answering the worker's own GraphQL adapter, whose clock is set 2 s
// behind the time-skipping server's at each call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startBillCycle } from '../../../workflows/src/client';
import { GraphqlBillingPeriodsClient } from '../../../workflows/src/adapters/graphql';
import { periodContaining } from '../../../workflows/src/domain/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from '../../../workflows/test/support/env';
import { rows } from '../src/application/sql';
import type { Em } from '@ledgerline/platform';
import { account, startHarness, subscribe, type Harness } from './support';

let env: TestWorkflowEnvironment;
let h: Harness;
const TZ = 'Europe/Berlin';
const SKEW_MS = 2_000;
const answers: string[] = [];

/** The worker's GraphQL adapter, answered by the service in this process, its clock SKEW_MS behind Temporal's. */
const billingPeriods = new GraphqlBillingPeriodsClient({
  url: 'http://invoicing.test/graphql',
  fetch: (async (_url: string, init: { body: string }) => {
    const { query, variables } = JSON.parse(init.body);
    h.clock.set(new Date((await env.currentTimeMs()) - SKEW_MS));
    const r = await h.svc.request(query, variables);
    answers.push(r.errors?.length ? String(r.errors[0]!.extensions?.reason) : 'closed');
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

describe('bill-cycle workflow with invoicing\'s clock behind Temporal\'s', () => {
  it('closes the period moments later instead of failing the account\'s cycle', async () => {
    const acc = `acc_skew_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await env.currentTimeMs()), 1, TZ);
    h.clock.set(new Date(p1.periodStart));
    await account(h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    const taskQueue = uniqueId('bill-cycle-skew');
    const worker = await startWorker(env.nativeConnection, { ...fakeSystems(), billingPeriods } as unknown as ReturnType<typeof fakeSystems>, { taskQueue });
    await worker.runUntil(async () => {
      const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await env.sleep(Date.parse(p1.periodEnd) - (await env.currentTimeMs()) + 60_000);
      // The first answer was the refusal (invoicing's clock had not reached the end yet); a retry closed it.
      expect(answers[0]).toBe('BILLING_PERIOD_NOT_ENDED');
      expect(answers.at(-1)).toBe('closed');
      const d = await handle.describe();
      expect(d.status.name).toBe('RUNNING');
      // The run now is the next period's (continued as new), the period is closed and billed once.
      expect(d.runId).not.toBe(handle.firstExecutionRunId);
      const invoices = await rows<{ period_start: Date; period_end: Date }>(h.svc.runtime.orm.em.fork() as unknown as Em, 'select period_start, period_end from invoice where billing_account_id = ? and voided_at is null', [acc]);
      expect(invoices.map((i) => [new Date(i.period_start).toISOString(), new Date(i.period_end).toISOString()])).toEqual([[p1.periodStart, p1.periodEnd]]);
      await handle.terminate('test over');
    });
  }, 60_000);
});
