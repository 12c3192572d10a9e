// Review 16: a bill run plans its batches as account-id ranges when it starts. A postpaid account
// of the cycle that invoicing learns of after that (its billingaccount.created event was late, or
// the run was started early, from UTC+14) and whose id sorts outside every planned range is never
// billed for the period: the run completes, and starting the cycle date again returns the same run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { billRunView, processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T10:00:00Z', { consume: false, runBillRuns: false });
  for (const id of ['acc_b', 'acc_d']) {
    await account(h, id);
    await subscribe(h, id, `sub_${id}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
});
afterAll(async () => h?.svc.close());

const deps = { catalog: null };

describe('review 16: an account registered after its cycle date was started', () => {
  it('is billed for the period by the run (or by starting the cycle date again)', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 2, driver: 'WORKFLOW', now }));
    // Two accounts of the same cycle arrive a little later (the subscribers consumer lagging).
    for (const id of ['acc_c', 'acc_e']) {
      await account(h, id);
      await subscribe(h, id, `sub_${id}`, 'postpaid20', '2026-08-01T00:00:00Z');
    }
    const drive = async () => {
      for (;;) if (!(await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)))) return;
    };
    await drive();
    await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 2, driver: 'WORKFLOW', now }));
    await drive();
    const billed = (await orm.em.fork().getConnection().execute(`select billing_account_id from invoice where period_end = '2026-09-30T22:00:00Z' order by 1`)).map((r: any) => r.billing_account_id);
    expect(billed).toEqual(['acc_b', 'acc_c', 'acc_d', 'acc_e']);
  });

  it('bills one that arrives after its batch was billed in the final pass, and one after the run completed when the date is started again', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    const join = async (id: string) => {
      await account(h, id, { billCycleDay: 15 });
      await subscribe(h, id, `sub_${id}`, 'postpaid20', '2026-08-01T00:00:00Z');
    };
    for (const id of ['x_b', 'x_d']) await join(id);
    const start = () => orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-09-15', batchSize: 1, driver: 'WORKFLOW', now }));
    const { run } = await start();
    expect(run.totalBatches).toBe(2);
    await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, deps, now));
    // After batch 0 (x_b) is done: x_a sorts into batch 0's range, x_c into batch 1's.
    for (const id of ['x_a', 'x_c']) await join(id);
    const drive = async () => {
      for (;;) if (!(await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)))) return;
    };
    await drive();
    const billed = async () =>
      (await orm.em.fork().getConnection().execute(`select billing_account_id from invoice where bill_run_id = '${run.id}' and voided_at is null order by 1`)).map((r: any) => r.billing_account_id);
    expect(await billed()).toEqual(['x_a', 'x_b', 'x_c', 'x_d']);
    // The run has completed; x_z arrives; starting the date again bills it (once), the others are not billed again.
    await join('x_z');
    await start();
    await drive();
    await start();
    await drive();
    expect(await billed()).toEqual(['x_a', 'x_b', 'x_c', 'x_d', 'x_z']);
    const view = await orm.em.fork().transactional((em) => billRunView(em as Em, run.id));
    expect({ state: view!.state, totalAccounts: view!.totalAccounts, accountsDone: view!.accountsDone, invoicesCreated: view!.invoicesCreated, waiting: view!.accountsWaiting }).toEqual({
      state: 'COMPLETED', totalAccounts: 5, accountsDone: 5, invoicesCreated: 5, waiting: 0,
    });
  });

  it('bills an account of a cycle that had none when its run was started', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    const start = () => orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-09-20', batchSize: 10, driver: 'SERVICE', now }));
    const { run } = await start();
    expect(run).toMatchObject({ state: 'COMPLETED', totalBatches: 0 });
    await account(h, 'y_a', { billCycleDay: 20 });
    await subscribe(h, 'y_a', 'sub_y_a', 'postpaid20', '2026-08-01T00:00:00Z');
    await start();
    for (;;) if (!(await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)))) break;
    const billed = (await orm.em.fork().getConnection().execute(`select billing_account_id from invoice where bill_run_id = '${run.id}'`)).map((r: any) => r.billing_account_id);
    expect(billed).toEqual(['y_a']);
    const view = await orm.em.fork().transactional((em) => billRunView(em as Em, run.id));
    expect({ state: view!.state, totalAccounts: view!.totalAccounts, invoicesCreated: view!.invoicesCreated }).toEqual({ state: 'COMPLETED', totalAccounts: 1, invoicesCreated: 1 });
  });
});
