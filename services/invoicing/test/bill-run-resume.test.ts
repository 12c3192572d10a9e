// A bill run survives a crash: a batch is one transaction, so a failure mid-batch leaves it
// pending with nothing written, and a second driver racing the first bills each account once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false, runBillRuns: false });
  for (let i = 0; i < 7; i++) {
    await account(h, `acc_${i}`);
    await subscribe(h, `acc_${i}`, `sub_${i}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
});
afterAll(async () => h?.svc.close());

const deps = { catalog: null };
const count = async (sql: string) => Number((await h.svc.runtime.orm.em.fork().getConnection().execute(sql))[0].n);

describe('bill run resume', () => {
  it('resumes after a crash mid-batch and never bills an account twice', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 3, driver: 'WORKFLOW', now }));
    expect(run.totalBatches).toBe(3);

    await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, deps, now));
    // The "worker" dies inside batch 1, after its invoices were written: the transaction rolls back.
    await expect(
      orm.em.fork().transactional(async (em) => {
        await processBillRunBatch(em as Em, run.id, 1, deps, now);
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(await count(`select count(*) as n from invoice`)).toBe(3);
    expect(await count(`select count(*) as n from bill_run_batch where state = 'PENDING'`)).toBe(2);

    // Two drivers resume side by side (the run "started twice"): each batch is claimed once.
    const drive = async () => {
      for (;;) {
        const r = await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now));
        if (!r) return;
      }
    };
    await Promise.all([drive(), drive()]);
    // Replaying a finished batch is a no-op.
    const replay = await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, deps, now));
    expect(replay).toMatchObject({ batchNo: 0, invoicesCreated: 3 });
    expect(await count(`select count(*) as n from invoice`)).toBe(7);
    expect(await count(`select count(distinct billing_account_id) as n from invoice`)).toBe(7);
    expect(await count(`select count(*) as n from bill_run where state = 'COMPLETED'`)).toBe(1);
    // Gap-free numbering despite the rolled-back batch.
    expect(await count(`select count(*) as n from invoice where number between 'INV-00000001' and 'INV-00000007'`)).toBe(7);
  });
});
