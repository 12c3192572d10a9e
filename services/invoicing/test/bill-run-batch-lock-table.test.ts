// What a bill run's batch of the largest size takes of PostgreSQL's shared lock table. Since 926aa74 the
// batch holds the credit lock of every account it issues for until it commits; as a transaction advisory
// lock, each was an entry of the one lock table every session of the server shares, sized
// max_locks_per_transaction × (max_connections + max_prepared_transactions) plus a little slack (about
// 12,600 entries at the defaults here): a batch of 10,000 took 10,000 of them, two side by side (two
// drivers, or two runs) failed with "out of shared memory / You might need to increase
// max_locks_per_transaction", and so did whatever else on the server needed a lock meanwhile. Now the
// credit lock is a row lock (account_credit_lock), kept in the row, not in that table: a batch holds
// a handful of entries (its tables and indexes), whatever its size.
// Real PostgreSQL; the entries are counted in pg_locks by the batch's own transaction before it commits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { MAX_BILL_RUN_BATCH } from '../src/domain/bill-run-batch';
import { rows, sql } from '../src/application/sql';
import { account, startHarness, type Harness } from './support';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('2026-10-01T09:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe("a bill run's batch of the largest size", () => {
  it("holds a handful of the server's shared lock table entries, not one per account", async () => {
    // MAX_BILL_RUN_BATCH accounts like one registered through the API (copied row by row: registering
    // 10,000 through GraphQL would take minutes), each billed on the 1st.
    await account(h, 'acc_lt_template', { billCycleDay: 1 });
    const orm = h.svc.runtime.orm;
    await orm.em.fork().transactional(async (em) => {
      const cols = (await rows<{ column_name: string }>(em as Em, `select column_name from information_schema.columns where table_schema = current_schema() and table_name = 'billing_account' and column_name <> 'id'`)).map((c) => `"${c.column_name}"`);
      await sql(em as Em).raw(
        `insert into billing_account (id, ${cols.join(', ')})
         select 'acc_lt_' || lpad(g::text, 5, '0'), ${cols.map((c) => `a.${c}`).join(', ')} from billing_account a, generate_series(1, ?) g where a.id = 'acc_lt_template'`,
        [MAX_BILL_RUN_BATCH - 1],
      );
    });

    const now = new Date('2026-10-01T09:00:00Z');
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: MAX_BILL_RUN_BATCH, now }));
    expect([run.totalBatches, run.totalAccounts]).toEqual([1, MAX_BILL_RUN_BATCH]);

    const held = await orm.em.fork().transactional(async (em) => {
      const outcome = await processBillRunBatch(em as Em, run.id, 0, { catalog: null }, now);
      // Fast-path relation locks live in the backend, not in the shared table: only the others count.
      const [locks] = await rows<{ entries: string; advisory: string; limit: string }>(
        em as Em,
        `select count(*) filter (where not fastpath) as entries, count(*) filter (where locktype = 'advisory') as advisory,
                current_setting('max_locks_per_transaction') as limit
           from pg_locks where pid = pg_backend_pid()`,
      );
      return { outcome, entries: Number(locks!.entries), advisory: Number(locks!.advisory), limit: Number(locks!.limit) };
    });
    expect(held.outcome?.invoicesCreated).toBe(MAX_BILL_RUN_BATCH);
    // Before: 10,000 advisory locks (one credit lock per account), 10,000+ entries.
    expect(held.advisory).toBe(0);
    // A constant few, its tables' and indexes' locks past the backend's fast path (58 here), about what
    // PostgreSQL sizes the table for per transaction (max_locks_per_transaction, 64 by default); before: 10,000 more.
    expect(held.entries).toBeLessThanOrEqual(2 * held.limit);
  }, 300_000);
});
