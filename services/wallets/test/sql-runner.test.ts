/**
 * The statement runner's one-round-trip reads (`Sql.queries`, ADR 12) on a real PostgreSQL: the
 * `begin` travels with the first statements, a failure rolls back the statements before it too,
 * and a statement that runs after a lock was granted sees what the previous holder committed
 * (what the balance reads after the wallet lock rely on); each statement is prepared once per
 * connection, also when a message failed after its PREPARE (which outlives the rollback).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { Decimal } from '@ledgerline/contracts';
import { openDb, type Db } from '../src/persistence/sql';
import { accountId, ensureAccounts, postTransactions, type NewTransaction } from '../src/application/ledger';
import { dbOf, startWallets, uniq } from './support';

let svc: TestService;
let db: Db;
beforeAll(async () => {
  ({ svc } = await startWallets());
  db = dbOf(svc);
  await db.query(`create table if not exists sql_runner_probe (id text primary key, n int not null)`);
});
afterAll(async () => {
  await db?.query(`drop table if exists sql_runner_probe`);
  await db?.query(`drop table if exists sql_runner_growth`);
  await svc?.close();
});

describe('several statements in one round trip', () => {
  it('run in order inside the transaction, with values written in as literals', async () => {
    const id = uniq("it's");
    const [inserted, read] = await db.tx((sql) =>
      sql.queries([
        { text: `insert into sql_runner_probe (id, n) select * from unnest($1::text[], $2::int[]) returning id`, params: [[id, `${id}\\2`], [1, 2]] },
        { text: `select id, n from sql_runner_probe where id = any($1::text[]) order by n`, params: [[id, `${id}\\2`]] },
      ]),
    );
    expect(inserted).toHaveLength(2);
    expect(read).toEqual([{ id, n: 1 }, { id: `${id}\\2`, n: 2 }]);
  });

  it('a failing statement rolls back the ones before it, and the connection is clean afterwards', async () => {
    const id = uniq('dup');
    await expect(
      db.tx((sql) =>
        sql.queries([
          { text: `insert into sql_runner_probe (id, n) values ($1, 1)`, params: [id] },
          { text: `insert into sql_runner_probe (id, n) values ($1, 2)`, params: [id] },
        ]),
      ),
    ).rejects.toThrow(/duplicate key/);
    expect(await db.query(`select 1 from sql_runner_probe where id = $1`, [id])).toEqual([]);
    // Every pooled connection still works in a new transaction (none was left inside the failed one).
    const ok = await Promise.all(Array.from({ length: 12 }, () => db.tx(async (sql) => (await sql.queries([{ text: 'select 1 as one' }]))[0])));
    expect(ok.flat()).toEqual(Array.from({ length: 12 }, () => ({ one: 1 })));
  });

  it('a statement after a lock sees what the lock holder committed while it waited', async () => {
    const lock = uniq('lock');
    const value = uniq('value');
    await db.query(`insert into sql_runner_probe (id, n) values ($1, 0), ($2, 10)`, [lock, value]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    // The holder locks `lock`, changes `value` and commits only when released.
    const holder = db.tx(async (sql) => {
      await sql.query(`select id from sql_runner_probe where id = $1 for update`, [lock]);
      await sql.query(`update sql_runner_probe set n = 7 where id = $1`, [value]);
      locked();
      await held;
    });
    await lockTaken;
    const reader = db.tx((sql) =>
      sql.queries([
        { text: `select id from sql_runner_probe where id = $1 for update`, params: [lock] },
        { text: `select n from sql_runner_probe where id = $1`, params: [value] },
      ]),
    );
    // The reader is waiting for the lock; let the holder commit.
    await new Promise((r) => setTimeout(r, 100));
    release();
    await holder;
    const [, [after]] = await reader;
    expect(after).toEqual({ n: 7 });
  });

  it('prepare a statement once per connection and reuse it, also after a failed PREPARE beside it', async () => {
    const one = openDb(svc.runtime.config.databaseUrl!, svc.runtime.config.databaseSchema, 1);
    try {
      const id = uniq('prep');
      await one.query(`insert into sql_runner_probe (id, n) values ($1, 5)`, [id]);
      const text = `select n from sql_runner_probe where id = any($1::text[]) and $2::text is not null`;
      // Prepared together with a statement on a table that does not exist: that PREPARE fails after this one ran.
      await expect(one.tx((sql) => sql.queries([{ text, params: [[id], 'x'] }, { text: `select n from sql_runner_no_such_table where id = $1::text`, params: ['y'] }]))).rejects.toThrow(/sql_runner_no_such_table/);
      // Not prepared again ("already exists" would fail this): one prepared statement serves every call.
      for (let i = 0; i < 3; i++) expect(await one.tx((sql) => sql.queries([{ text, params: [[id], `call ${i}`] }]))).toEqual([[{ n: 5 }]]);
      const mine = await one.query<{ calls: number }>(
        `select (generic_plans + custom_plans)::int as calls from pg_prepared_statements where name like 'q%' and statement like '%prepare ' || name || ' as select n from sql_runner_probe%'`,
      );
      expect(mine).toEqual([{ calls: 3 }]);
    } finally {
      await one.close();
    }
  });
  it('a statement is planned once, and a plan made while its table was empty still reads by index when it has grown', async () => {
    const one = openDb(svc.runtime.config.databaseUrl!, svc.runtime.config.databaseSchema, 1);
    try {
      await one.query(`drop table if exists sql_runner_growth`);
      await one.query(`create table sql_runner_growth (k text primary key, v int not null)`);
      // Statistics say it is empty (as after an ANALYZE of a new deployment, or of a benchmark's fresh schema).
      await one.query(`analyze sql_runner_growth`);
      const text = `select v from sql_runner_growth where k = any($1::text[])`;
      // More runs than PostgreSQL needs to settle on a generic plan, all on the empty table.
      for (let i = 0; i < 8; i++) await one.tx((sql) => sql.queries([{ text, params: [[`k${i}`]] }]));
      await one.query(`insert into sql_runner_growth select 'k' || i, i from generate_series(1, 50000) i`);
      expect(await one.tx((sql) => sql.queries([{ text, params: [['k7']] }]))).toEqual([[{ v: 7 }]]);
      const [{ name, generic }] = await one.query<{ name: string; generic: number }>(
        `select name, generic_plans::int as generic from pg_prepared_statements where statement like '%from sql_runner_growth where k%'`,
      );
      // Planning every run cost a reserve group ~2 of 5 ms: the cached plan serves the later runs.
      expect(generic).toBeGreaterThan(0);
      // A generic plan made for the empty table reads all 50,000 rows on every call (seen: reserve groups 2.6 -> 8 ms in 30 s).
      const plan = (await one.query<Record<string, string>>(`explain execute ${name}('{k7}')`)).map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index (Only )?Scan/);
    } finally {
      await one.close();
    }
  });
});

describe('writes held for the next message', () => {
  it('go with the next statement, in order, and with the commit', async () => {
    const [a, b] = [uniq('held-a'), uniq('held-b')];
    const seen = await db.tx(async (sql) => {
      await sql.write(`insert into sql_runner_probe (id, n) values ($1, 1)`, [a]);
      await sql.write(`update sql_runner_probe set n = n + 1 where id = $1`, [a]);
      // The read goes in the same message after the two writes, so it sees them.
      const [row] = await sql.query<{ n: number }>(`select n from sql_runner_probe where id = $1`, [a]);
      await sql.write(`insert into sql_runner_probe (id, n) values ($1, 3)`, [b]);
      return row;
    });
    expect(seen).toEqual({ n: 2 });
    // The last write travelled with the commit.
    expect(await db.query(`select id, n from sql_runner_probe where id = any($1::text[]) order by n`, [[a, b]])).toEqual([{ id: a, n: 2 }, { id: b, n: 3 }]);
  });

  it('a held write that fails at the commit fails the transaction and leaves nothing of it', async () => {
    const [a, b] = [uniq('held-fail-a'), uniq('held-fail-b')];
    await db.query(`insert into sql_runner_probe (id, n) values ($1, 0)`, [b]);
    await expect(
      db.tx(async (sql) => {
        await sql.query(`insert into sql_runner_probe (id, n) values ($1, 1)`, [a]);
        await sql.write(`insert into sql_runner_probe (id, n) values ($1, 1)`, [b]);
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await db.query(`select id from sql_runner_probe where id = $1`, [a])).toEqual([]);
    // Every pooled connection still works (none was left inside the failed transaction).
    const ok = await Promise.all(Array.from({ length: 12 }, () => db.tx(async (sql) => (await sql.queries([{ text: 'select 1 as one' }]))[0])));
    expect(ok.flat()).toHaveLength(12);
  });
});

describe('the ledger write checks its accounts itself', () => {
  it('a transaction moving an account that does not exist fails whole (LL001), whether its write was held or ran at once', async () => {
    const now = new Date('2026-11-25T10:00:00Z');
    // One transaction is held for the commit; 300 are too many values to hold and run at once.
    for (const count of [1, 300]) {
      const acc = uniq('acc_missing');
      const real = accountId(acc, 'ADJUSTMENTS', 'EUR');
      await db.tx((sql) => ensureAccounts(sql, acc, [{ id: real, kind: 'ADJUSTMENTS', unit: 'EUR' }], now));
      const txs: NewTransaction[] = Array.from({ length: count }, (_, i) => ({
        idempotencyKey: uniq(`missing-${i}`),
        kind: 'ADJUSTMENT',
        billingAccountId: acc,
        entries: [
          { accountId: real, unit: 'EUR', amount: new Decimal(1) },
          { accountId: accountId(acc, 'REVENUE', 'EUR'), unit: 'EUR', amount: new Decimal(-1) },
        ],
      }));
      await expect(db.tx((sql) => postTransactions(sql, txs, now))).rejects.toMatchObject({ code: 'LL001', message: 'a ledger account of this transaction does not exist' });
      expect(await db.query(`select balance from ledger_account where id = $1`, [real])).toEqual([{ balance: '0.000000' }]);
      expect(await db.query(`select count(*)::int as n from ledger_transaction where billing_account_id = $1`, [acc])).toEqual([{ n: 0 }]);
    }
  });
});

describe('an idle database connection lost under the service', () => {
  it('is replaced: the process lives on and the next transaction runs (an unhandled pool error would end the process)', async () => {
    const [{ pid }] = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
    const admin = new pg.Client({ connectionString: svc.runtime.config.databaseUrl! });
    await admin.connect();
    try {
      expect((await admin.query('select pg_terminate_backend($1) as done', [pid])).rows).toEqual([{ done: true }]);
    } finally {
      await admin.end();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await db.tx((sql) => sql.queries([{ text: 'select 1 as one' }]))).toEqual([[{ one: 1 }]]);
  });
});
