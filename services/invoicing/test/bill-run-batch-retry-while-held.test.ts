// A bill-run batch whose activity is retried while its first attempt is still open in invoicing.
//
// The bill-run workflow (workflows/src/workflows/bill-run.ts) names each batch (`processBillRunBatch`
// with its batchNo) and counts it done from the answer. Its first attempt's answer can be lost while
// that attempt's transaction is still running here (the connection to the worker broke, the worker
// restarted, the attempt outlived its timeout); the retry then finds the batch row locked. It was
// claimed with SKIP LOCKED and a locked named batch answered "nothing" (batchNo null, 0 accounts),
// which the worker's client reads as the batch done: if the first attempt then rolled back (invoicing
// died before its commit), the batch stayed PENDING in a WORKFLOW run no other driver bills, the run
// RUNNING for ever, its accounts never invoiced, and the workflow ended `done`. A named batch now
// waits for the attempt that holds it and answers what that attempt left (DONE, or bills it itself).
// Real bill-run workflow on the time-skipping server, the worker's own GraphQL client, this service
// on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Em } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlInvoicingClient } from '../../../workflows/src/activities/invoicing';
import { billRunWorkflow, billRunWorkflowId } from '../../../workflows/src/workflows/bill-run';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from '../../../workflows/test/support/env';
import { processBillRunBatch } from '../src/application/bill-run';
import { account, startHarness, subscribe, type Harness } from './support';

let env: TestWorkflowEnvironment;
let h: Harness;
const deps = { catalog: null };
const ACCOUNTS = ['acc_held_0', 'acc_held_1', 'acc_held_2', 'acc_held_3'];

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false, runBillRuns: false });
  for (const [i, acc] of ACCOUNTS.entries()) {
    await account(h, acc);
    await subscribe(h, acc, `sub_held_${i}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
}, 120_000);

afterAll(async () => {
  await h?.svc.close();
  await env?.teardown();
});

const count = async (sql: string) => Number((await h.svc.runtime.orm.em.fork().getConnection().execute(sql))[0].n);
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

describe('bill run: a batch retried while its first attempt is still open', () => {
  it('is not counted done by the retry; the accounts are billed once when the first attempt rolls back', async () => {
    let firstAttempt: { release: () => void; ended: Promise<unknown> } | null = null;
    let retryAnswer: { batchNo: number | null; accounts: number } | null = null;
    const invoicing = new GraphqlInvoicingClient({
      url: 'http://invoicing.test/graphql',
      fetch: (async (_url: string, init: { body: string }) => {
        const { query, variables } = JSON.parse(init.body);
        const batch0 = query.includes('processBillRunBatch') && variables.i.batchNo === 0;
        if (batch0 && !firstAttempt) {
          // The first attempt: its transaction bills batch 0 and is still open when its answer is lost.
          let release!: () => void;
          const gate = new Promise<void>((r) => (release = r));
          let billed!: () => void;
          const written = new Promise<void>((r) => (billed = r));
          const ended = h.svc.runtime.orm.em
            .fork()
            .transactional(async (em) => {
              await processBillRunBatch(em as Em, variables.i.billRunId, 0, deps, h.clock.now());
              billed();
              await gate;
              throw new Error('invoicing died before the commit');
            })
            .catch(() => undefined);
          await written;
          firstAttempt = { release, ended };
          throw new TypeError('fetch failed: other side closed');
        }
        if (batch0 && firstAttempt) {
          // The retry, while the first attempt is open; that attempt rolls back a moment later.
          const answer = h.svc.request(query, variables);
          setTimeout(() => firstAttempt!.release(), 500);
          await firstAttempt.ended;
          const r = await answer;
          retryAnswer ??= (r.data as { processBillRunBatch: { batchNo: number | null; accounts: number } }).processBillRunBatch;
          return json(r);
        }
        return json(await h.svc.request(query, variables));
      }) as unknown as typeof fetch,
    });
    const taskQueue = uniqueId('bill-run-held');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createInvoicingActivities({ invoicing, reminders: { sendReminder: async () => undefined }, lines: { suspendAccountLines: async () => ({ lines: 0 }), restoreAccountLines: async () => ({ lines: 0 }) } }),
      shutdownGraceTime: '1 second',
    });
    const result = await worker.runUntil(() =>
      env.client.workflow.execute(billRunWorkflow, { taskQueue, workflowId: billRunWorkflowId(`2026-10-01-${taskQueue}`), args: [{ cycleDate: '2026-10-01', batchSize: 2, concurrency: 1 }] }),
    );

    // Every account billed once, the run completed, and the workflow's count is the truth.
    expect(await count(`select count(*) as n from invoice where voided_at is null`)).toBe(4);
    expect(await count(`select count(distinct billing_account_id) as n from invoice`)).toBe(4);
    expect(await count(`select count(*) as n from bill_run_batch where state <> 'DONE'`)).toBe(0);
    expect(await count(`select count(*) as n from bill_run where state = 'COMPLETED'`)).toBe(1);
    expect(result).toMatchObject({ totalAccounts: 4, accountsDone: 4, invoicesCreated: 4, batchesDone: 2, done: true });
    // The retry answered batch 0 as billed by itself, not "nothing to do".
    expect(retryAnswer).toMatchObject({ batchNo: 0, accounts: 2 });
    // Gap-free numbers: the rolled-back attempt's numbers were given again.
    expect(await count(`select count(*) as n from invoice where number between 'INV-00000001' and 'INV-00000004'`)).toBe(4);
  }, 60_000);
});
