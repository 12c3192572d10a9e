// Set-up shared by the tests that run the bill-cycle workflow against real invoicing: the time-skipping
// Temporal server, invoicing's harness (PostgreSQL) on Temporal's clock, and the worker's own GraphQL
// adapter answered by that service in this process, recording each close's answer per account.
import { afterAll, beforeAll } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { GraphqlBillingPeriodsClient } from '../../../workflows/src/adapters/graphql';
import { createTimeSkippingEnv, fakeSystems, startWorker, workflowBundle } from '../../../workflows/test/support/env';
import { rows } from '../src/application/sql';
import { startHarness, type Harness } from './support';

export interface BillCycleOnTemporal {
  readonly env: TestWorkflowEnvironment;
  readonly h: Harness;
  /** What invoicing answered each close, per account: the refusal's reason, or `closed`. */
  answers: Map<string, string[]>;
  billingPeriods: GraphqlBillingPeriodsClient;
  em(): Em;
  /** The account's invoices not voided, as [periodStart, periodEnd] ISO pairs. */
  invoices(acc: string): Promise<[string, string][]>;
  /** Status and result of a run once it is no longer RUNNING (read from its history: `result()` lets the test server skip time). */
  ended(handle: WorkflowHandle): Promise<{ status: string; result: unknown }>;
  /** A worker on `taskQueue` with the fake systems and this adapter. */
  workerFor(taskQueue: string): ReturnType<typeof startWorker>;
}

/** Starts the set-up before the file's tests and stops it after. `callerOf`: who an account's closes are sent as (default: the worker's SYSTEM token). */
export function billCycleOnTemporal(o: { callerOf?: (billingAccountId: string) => Caller | undefined } = {}): BillCycleOnTemporal {
  let env: TestWorkflowEnvironment;
  let h: Harness;
  const answers = new Map<string, string[]>();
  const billingPeriods = new GraphqlBillingPeriodsClient({
    url: 'http://invoicing.test/graphql',
    fetch: (async (_url: string, init: { body: string }) => {
      const { query, variables } = JSON.parse(init.body);
      h.clock.set(new Date(await env.currentTimeMs()));
      const acc = String(variables.input.billingAccountId);
      const r = await h.svc.request(query, variables, o.callerOf?.(acc));
      answers.set(acc, [...(answers.get(acc) ?? []), r.errors?.length ? String(r.errors[0]!.extensions?.reason ?? r.errors[0]!.extensions?.code) : 'closed']);
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
  return {
    get env() {
      return env;
    },
    get h() {
      return h;
    },
    answers,
    billingPeriods,
    em,
    async invoices(acc) {
      const r = await rows<{ period_start: Date; period_end: Date }>(em(), 'select period_start, period_end from invoice where billing_account_id = ? and voided_at is null order by period_start', [acc]);
      return r.map((i) => [new Date(i.period_start).toISOString(), new Date(i.period_end).toISOString()]);
    },
    async ended(handle) {
      const deadline = Date.now() + 10_000;
      let d = await handle.describe();
      while (d.status.name === 'RUNNING') {
        if (Date.now() > deadline) throw new Error('the cycle did not end');
        await new Promise((r) => setTimeout(r, 50));
        d = await handle.describe();
      }
      const history = await handle.fetchHistory();
      const done = history.events?.at(-1)?.workflowExecutionCompletedEventAttributes;
      return { status: d.status.name, result: done?.result?.payloads?.[0] ? defaultPayloadConverter.fromPayload(done.result.payloads[0]) : undefined };
    },
    workerFor: (taskQueue) => startWorker(env.nativeConnection, { ...fakeSystems(), billingPeriods } as unknown as ReturnType<typeof fakeSystems>, { taskQueue }),
  };
}
