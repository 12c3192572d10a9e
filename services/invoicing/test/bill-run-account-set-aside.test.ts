// A bill run's batch with one account that cannot be billed (its subscription names a plan version
// invoicing's catalog does not know: PLAN_VERSION_UNKNOWN, or any other coded, data-caused refusal).
//
// The batch was one transaction over all its accounts: the refusal failed the whole batch, which the
// service's runner retried every 500 ms (and the workflow's activity by its retry policy) for ever; the
// batch's other accounts were never billed and the run never completed. Now such an account is set
// aside with its reason (BillRun.setAsideAccounts, ledgerline_invoicing_bill_run_accounts_set_aside),
// the rest of the batch is billed and the run completes; once the data is fixed, `billSetAsideAccounts`
// bills it, once. A transient failure (the catalog down) still fails the batch, retried, nothing set aside.
// Real PostgreSQL; the real bill-run workflow on the time-skipping server with the worker's own client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { scrapeMetrics, type Em } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlInvoicingClient } from '../../../workflows/src/activities/invoicing';
import { billRunWorkflow, billRunWorkflowId } from '../../../workflows/src/workflows/bill-run';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from '../../../workflows/test/support/env';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import type { CatalogClient } from '../src/application/plans';
import { account, PLANS, startHarness, subscribe, type Harness } from './support';

let env: TestWorkflowEnvironment;
let h: Harness;
const UNKNOWN = 'plv_setaside_unknown_v1';
const UNKNOWN_WF = 'plv_setaside_unknown_wf_v1';
const FLAKY = 'plv_setaside_flaky_v1';

async function subscribeTo(accountId: string, sub: string, planVersionId: string): Promise<void> {
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: sub, lineId: `lin_${sub}`, msisdn: `+49151${String(sub.length).padStart(7, '0')}`, billingAccountId: accountId, planCode: 'POSTPAID_20GB', planVersionId, startsAt: '2026-08-01T00:00:00Z' },
  });
}

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false, runBillRuns: false });
  // Cycle day 1 (the service's driver): acc_sa_1 cannot be billed.
  for (let i = 0; i < 4; i++) {
    await account(h, `acc_sa_${i}`);
    if (i === 1) await subscribeTo(`acc_sa_${i}`, `sub_sa_${i}`, UNKNOWN);
    else await subscribe(h, `acc_sa_${i}`, `sub_sa_${i}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
  // Cycle day 15: the catalog is down for acc_tr_0's plan version (transient).
  await account(h, 'acc_tr_0', { billCycleDay: 15 });
  await subscribeTo('acc_tr_0', 'sub_tr_0', FLAKY);
  await account(h, 'acc_tr_1', { billCycleDay: 15 });
  await subscribe(h, 'acc_tr_1', 'sub_tr_1', 'postpaid20', '2026-08-01T00:00:00Z');
  // Cycle day 20 (the workflow): acc_wf_2 cannot be billed.
  for (let i = 0; i < 4; i++) {
    await account(h, `acc_wf_${i}`, { billCycleDay: 20 });
    if (i === 2) await subscribeTo(`acc_wf_${i}`, `sub_wf_${i}`, UNKNOWN_WF);
    else await subscribe(h, `acc_wf_${i}`, `sub_wf_${i}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
}, 120_000);

afterAll(async () => {
  await h?.svc.close();
  await env?.teardown();
});

const count = async (sql: string) => Number((await h.svc.runtime.orm.em.fork().getConnection().execute(sql))[0].n);
const invoicesOf = (prefix: string) => count(`select count(*) as n from invoice where voided_at is null and billing_account_id like '${prefix}%'`);
const RUN_FIELDS = 'state accountsDone invoicesCreated accountsSetAside setAsideAccounts { billingAccountId batchNo code message field attempts setAsideAt lastAttemptAt }';
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

/** Drives the run as the service's runner does (any due batch, one transaction each), at most `max` batches. */
async function drive(runId: string, max: number, catalog: CatalogClient | null = null): Promise<number> {
  let n = 0;
  for (; n < max; n++) {
    const r = await h.svc.runtime.orm.em.fork().transactional((em) => processBillRunBatch(em as Em, runId, null, { catalog }, h.clock.now()));
    if (!r) break;
  }
  return n;
}

describe('bill run: an account that cannot be billed', () => {
  it('is set aside with its reason; the rest of its batch is billed and the run completes', async () => {
    const { run } = await h.svc.runtime.orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 2, now: h.clock.now() }));
    expect(run.totalBatches).toBe(2);
    // Two batches, each billed once; no batch comes back (before: batch 0 failed PLAN_VERSION_UNKNOWN at every try).
    expect(await drive(run.id, 5)).toBe(2);
    expect(await invoicesOf('acc_sa_')).toBe(3);
    expect(await count(`select count(*) as n from invoice where billing_account_id = 'acc_sa_1'`)).toBe(0);

    const { billRun } = await h.gql(`query { billRun(cycleDate: "2026-10-01") { ${RUN_FIELDS} } }`);
    expect(billRun).toMatchObject({ state: 'COMPLETED', accountsDone: 3, invoicesCreated: 3, accountsSetAside: 1 });
    expect(billRun.setAsideAccounts).toEqual([
      expect.objectContaining({ billingAccountId: 'acc_sa_1', batchNo: 0, code: 'PLAN_VERSION_UNKNOWN', field: 'planVersionId', attempts: 1, message: expect.stringContaining(UNKNOWN) }),
    ]);
    // Staff see it on /metrics (alert LedgerlineBillRunAccountsSetAside).
    expect((await scrapeMetrics(h.svc))['ledgerline_invoicing_bill_run_accounts_set_aside{code="PLAN_VERSION_UNKNOWN"}']).toBe(1);

    // Not fixed yet: billing it again sets it aside again, nothing billed.
    const again = await h.gql(`mutation($i: BillSetAsideAccountsInput!) { billSetAsideAccounts(input: $i) { billed stillSetAside { billingAccountId code attempts } billRun { accountsSetAside } } }`, { i: { billRunId: run.id } });
    expect(again.billSetAsideAccounts).toMatchObject({ billed: [], stillSetAside: [{ billingAccountId: 'acc_sa_1', code: 'PLAN_VERSION_UNKNOWN', attempts: 2 }], billRun: { accountsSetAside: 1 } });

    // The data is fixed (the plan version becomes known): billed once, however often asked.
    await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: { id: UNKNOWN, document: PLANS.postpaid20.document } });
    const fixed = await h.gql(`mutation($i: BillSetAsideAccountsInput!) { billSetAsideAccounts(input: $i) { billed stillSetAside { billingAccountId } billRun { ${RUN_FIELDS} } } }`, { i: { billRunId: run.id } });
    expect(fixed.billSetAsideAccounts).toMatchObject({ billed: ['acc_sa_1'], stillSetAside: [], billRun: { state: 'COMPLETED', accountsDone: 4, invoicesCreated: 4, accountsSetAside: 0, setAsideAccounts: [] } });
    const twice = await h.gql(`mutation($i: BillSetAsideAccountsInput!) { billSetAsideAccounts(input: $i) { billed } }`, { i: { billRunId: run.id, billingAccountIds: ['acc_sa_1'] } });
    expect(twice.billSetAsideAccounts.billed).toEqual([]);
    expect(await count(`select count(*) as n from invoice where billing_account_id = 'acc_sa_1' and voided_at is null`)).toBe(1);
    expect(await drive(run.id, 5)).toBe(0);
    expect(await invoicesOf('acc_sa_')).toBe(4);
    expect((await scrapeMetrics(h.svc))['ledgerline_invoicing_bill_run_accounts_set_aside{code="PLAN_VERSION_UNKNOWN"}'] ?? 0).toBe(0);
  });

  it('a transient failure (the catalog down) still fails the batch, which is retried; nothing is set aside', async () => {
    const { run } = await h.svc.runtime.orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-09-15', batchSize: 10, now: h.clock.now() }));
    let down = true;
    const catalog = { planVersion: async (id: string) => {
      if (down) throw new Error('catalog: fetch failed (ECONNREFUSED)');
      return id === FLAKY ? PLANS.postpaid20.document : null;
    } } as unknown as CatalogClient;
    await expect(drive(run.id, 1, catalog)).rejects.toThrow('ECONNREFUSED');
    expect(await count(`select count(*) as n from bill_run_batch where bill_run_id = '${run.id}' and state = 'PENDING'`)).toBe(1);
    expect(await invoicesOf('acc_tr_')).toBe(0);
    const { billRun } = await h.gql(`query { billRun(cycleDate: "2026-09-15") { ${RUN_FIELDS} } }`);
    expect(billRun).toMatchObject({ state: 'RUNNING', accountsSetAside: 0 });
    down = false;
    expect(await drive(run.id, 5, catalog)).toBe(1);
    expect(await invoicesOf('acc_tr_')).toBe(2);
  });

  it('on Temporal: the bill-run workflow completes with the account set aside and reported', async () => {
    const invoicing = new GraphqlInvoicingClient({
      url: 'http://invoicing.test/graphql',
      fetch: (async (_url: string, init: { body: string }) => {
        const { query, variables } = JSON.parse(init.body);
        return json(await h.svc.request(query, variables));
      }) as unknown as typeof fetch,
    });
    const taskQueue = uniqueId('bill-run-set-aside');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createInvoicingActivities({ invoicing, reminders: { sendReminder: async () => undefined }, lines: { suspendAccountLines: async () => ({ lines: 0 }), restoreAccountLines: async () => ({ lines: 0 }) } }),
      shutdownGraceTime: '1 second',
    });
    const workflowId = billRunWorkflowId(`2026-09-20-${taskQueue}`);
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(billRunWorkflow, { taskQueue, workflowId, args: [{ cycleDate: '2026-09-20', batchSize: 2, concurrency: 1 }] });
      // Bounded in real time: before, the batch failed for ever (or the run failed) and never completed.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the bill run did not complete within 20 s')), 20_000)));
      try {
        return await Promise.race([handle.result(), limit]);
      } finally {
        clearTimeout(timer);
        await handle.terminate('test over').catch(() => undefined);
      }
    });
    expect(result).toMatchObject({ totalAccounts: 4, batchesDone: 2, accountsDone: 3, invoicesCreated: 3, accountsSetAside: 1, done: true });
    expect(await invoicesOf('acc_wf_')).toBe(3);
    expect(await count(`select count(*) as n from bill_run where cycle_date = '2026-09-20' and state = 'COMPLETED'`)).toBe(1);
    const { billRun } = await h.gql(`query { billRun(cycleDate: "2026-09-20") { ${RUN_FIELDS} } }`);
    expect(billRun.setAsideAccounts).toEqual([expect.objectContaining({ billingAccountId: 'acc_wf_2', batchNo: 1, code: 'PLAN_VERSION_UNKNOWN' })]);

    // Fixed, then the cycle date started again: its batch bills it, once; the run completes with nothing set aside.
    await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: { id: UNKNOWN_WF, document: PLANS.postpaid20.document } });
    const restart = await h.gql('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { started billRun { id state } } }', { i: { cycleDate: '2026-09-20', driver: 'WORKFLOW' } });
    expect(restart.startBillRun).toMatchObject({ started: false, billRun: { state: 'RUNNING' } });
    expect(await drive(restart.startBillRun.billRun.id, 5)).toBe(1);
    expect(await invoicesOf('acc_wf_')).toBe(4);
    expect(await count(`select count(*) as n from invoice where billing_account_id = 'acc_wf_2' and voided_at is null`)).toBe(1);
    const { billRun: rerun } = await h.gql(`query { billRun(cycleDate: "2026-09-20") { ${RUN_FIELDS} } }`);
    expect(rerun).toMatchObject({ state: 'COMPLETED', accountsDone: 4, invoicesCreated: 4, accountsSetAside: 0, setAsideAccounts: [] });
  }, 60_000);
});
