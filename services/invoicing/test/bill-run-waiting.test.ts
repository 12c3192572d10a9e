// A bill run started before every account's period has ended (allowed from UTC+14): the batch
// bills the accounts whose period has ended and is WAITING for the others; the run reports what is
// billed; a pass once their period has ended (the runner claims the batch by itself, or the cycle
// date is started again) bills them, once, and the batch is DONE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { billRunView, processBillRunBatch, runnableBillRuns, startBillRun } from '../src/application/bill-run';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  // 03:00 UTC on 1 Oct: Berlin's September has ended, Los Angeles' ends at 07:00 UTC, Honolulu's at 10:00 UTC.
  h = await startHarness('2026-10-01T03:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_w1_berlin');
  await subscribe(h, 'acc_w1_berlin', 'sub_w1_berlin', 'postpaid20', '2026-08-01T00:00:00Z');
  await account(h, 'acc_w2_la', { timezone: 'America/Los_Angeles' });
  await subscribe(h, 'acc_w2_la', 'sub_w2_la', 'postpaid20', '2026-08-01T07:00:00Z');
  await account(h, 'acc_w3_hnl', { timezone: 'Pacific/Honolulu' });
  await subscribe(h, 'acc_w3_hnl', 'sub_w3_hnl', 'postpaid20', '2026-08-01T10:00:00Z');
});
afterAll(async () => h?.svc.close());

const deps = { catalog: null };
const tx = <T>(f: (em: Em) => Promise<T>) => h.svc.runtime.orm.em.fork().transactional((em) => f(em as Em));
const query = async (sql: string) => h.svc.runtime.orm.em.fork().getConnection().execute(sql);

describe('bill run started before every period has ended', () => {
  it('bills each account once its period has ended, and completes the run when none is pending', async () => {
    const at = (iso: string) => new Date(iso);
    const { run } = await tx((em) => startBillRun(em, { cycleDate: '2026-10-01', batchSize: 10, now: at('2026-10-01T03:00:00Z') }));
    expect(run).toMatchObject({ totalAccounts: 3, totalBatches: 1 });

    const first = await tx((em) => processBillRunBatch(em, run.id, null, deps, at('2026-10-01T03:00:00Z')));
    expect(first).toEqual({ batchNo: 0, accounts: 3, invoicesCreated: 1, waiting: 2, setAside: 0 });
    expect(await query(`select state, waiting, wait_until = '2026-10-01T07:00:00Z' as at_la_end from bill_run_batch`)).toEqual([{ state: 'WAITING', waiting: 2, at_la_end: true }]);
    // Nothing is pending: the run is COMPLETED for now, and says one account of three is billed.
    expect(await tx((em) => billRunView(em, run.id))).toMatchObject({ state: 'COMPLETED', batchesDone: 0, accountsDone: 1, invoicesCreated: 1, accountsWaiting: 2, nextAttemptAt: new Date('2026-10-01T07:00:00Z') });
    // Before the first waiting period ends there is nothing to claim (no busy loop for a runner)…
    expect(await tx((em) => processBillRunBatch(em, run.id, null, deps, at('2026-10-01T06:59:59Z')))).toBeNull();
    // …but the service's runner (driver SERVICE, the default) keeps looking at the run.
    expect(await tx((em) => runnableBillRuns(em))).toEqual([run.id]);

    // 08:00 UTC: Los Angeles' period has ended, Honolulu's has not: the runner claims the batch.
    const second = await tx((em) => processBillRunBatch(em, run.id, null, deps, at('2026-10-01T08:00:00Z')));
    expect(second).toEqual({ batchNo: 0, accounts: 3, invoicesCreated: 2, waiting: 1, setAside: 0 });
    expect(await tx((em) => billRunView(em, run.id))).toMatchObject({ state: 'COMPLETED', accountsDone: 2, invoicesCreated: 2 });

    // The next day the operator starts the cycle date again: the same run, back to RUNNING until billed.
    const again = await tx((em) => startBillRun(em, { cycleDate: '2026-10-01', batchSize: 10, now: at('2026-10-02T12:00:00Z') }));
    expect(again).toMatchObject({ started: false, run: { id: run.id, state: 'RUNNING' } });
    const third = await tx((em) => processBillRunBatch(em, run.id, null, deps, at('2026-10-02T12:00:00Z')));
    expect(third).toEqual({ batchNo: 0, accounts: 3, invoicesCreated: 3, waiting: 0, setAside: 0 });
    expect(await tx((em) => processBillRunBatch(em, run.id, null, deps, at('2026-10-02T12:00:00Z')))).toBeNull();
    expect(await tx((em) => billRunView(em, run.id))).toMatchObject({ state: 'COMPLETED', batchesDone: 1, accountsDone: 3, invoicesCreated: 3, accountsWaiting: 0, nextAttemptAt: null });
    expect(await tx((em) => runnableBillRuns(em))).toEqual([]);
    // Replaying the finished batch is a no-op; exactly one invoice per account and period.
    expect(await tx((em) => processBillRunBatch(em, run.id, 0, deps, at('2026-10-03T12:00:00Z')))).toEqual(third);
    expect(await query(`select billing_account_id, count(*)::int as n from invoice group by billing_account_id order by 1`)).toEqual([
      { billing_account_id: 'acc_w1_berlin', n: 1 },
      { billing_account_id: 'acc_w2_la', n: 1 },
      { billing_account_id: 'acc_w3_hnl', n: 1 },
    ]);
  });
});
