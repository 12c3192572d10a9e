import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DomainError } from '@ledgerline/contracts';
import { dropSchema, openDatabase, PortableMigration, TEST_DATABASE_URL, transactionalRetrying, transactionRetries, type Em, type Orm } from '@ledgerline/platform';
import { afterCommit, registerAfterCommit } from '../src/application/after-commit';

// A real deadlock on PostgreSQL between two transactions that lock two rows in opposite order, run
// the way a mutation runs them (transactionalRetrying, invoicing's after-commit queue on the ORM).
class Slots extends PortableMigration {
  protected override statements(): string[] {
    return ['create table slot (id text primary key, n int not null default 0)', `insert into slot (id) values ('a'), ('b')`, 'create table once_only (k text primary key)'];
  }
}
const schema = `t_deadlock_retry_${randomBytes(4).toString('hex')}`;
const logged: { sqlState?: string; operation?: string }[] = [];
const logger = { warn: (o: object) => void logged.push(o as never) };
let orm: Orm;

beforeAll(async () => {
  orm = await openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities: [], migrations: [{ name: 'Migration00000000000000_slots', class: Slots }] });
  registerAfterCommit(orm.em as Em, () => undefined);
});
afterAll(async () => {
  await orm?.close();
  await dropSchema(schema);
});

const retriesOf = async (operation: string) => (await transactionRetries.get()).values.filter((v) => v.labels.operation === operation).reduce((n, v) => n + v.value, 0);

/** Both parties hold their first row before either asks for its second: a deadlock for sure. */
function barrier(parties: number): () => Promise<void> {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return async () => {
    if (++waiting === parties) open();
    await opened;
  };
}

/**
 * Locks `first` then `second`, bumps both and queues an after-commit task; the first attempt waits
 * at the barrier between the two locks (a second attempt runs alone: the other side has committed).
 */
function lockInOrder(first: string, second: string, meet: () => Promise<void>, tasks: string[], name: string) {
  let attempts = 0;
  const work = async (em: Em) => {
    attempts++;
    const q = (sql: string, params: unknown[] = []) => em.getConnection().execute(sql, params, 'run', em.getTransactionContext());
    // Found at once rather than after the default second.
    await q(`set local deadlock_timeout = '50ms'`);
    await q('update slot set n = n + 1 where id = ?', [first]);
    afterCommit(em, async () => void tasks.push(`${name}#${attempts}`));
    if (attempts === 1) await meet();
    await q('update slot set n = n + 1 where id = ?', [second]);
    return attempts;
  };
  return { work, attempts: () => attempts };
}

describe('a transaction PostgreSQL picks as a deadlock victim', () => {
  it('without a retry the loser fails with 40P01 (what a mutation answered as INTERNAL_SERVER_ERROR)', async () => {
    const meet = barrier(2);
    const tasks: string[] = [];
    const one = lockInOrder('a', 'b', meet, tasks, 'one');
    const two = lockInOrder('b', 'a', meet, tasks, 'two');
    const results = await Promise.allSettled([orm.em.fork().transactional((em) => one.work(em as Em)), orm.em.fork().transactional((em) => two.work(em as Em))]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0]!.reason as { code?: string }).code).toBe('40P01');
    // The loser's task was dropped with its rollback; the winner's ran.
    expect(tasks).toHaveLength(1);
  });

  it('runs the loser again: both commit, the retry is counted and logged, each after-commit task runs once', async () => {
    const meet = barrier(2);
    const tasks: string[] = [];
    const operation = 'testDeadlock';
    const before = await retriesOf(operation);
    const scope = { service: 'invoicing', operation, logger };
    const [n1, n2] = [await orm.em.fork().getConnection().execute(`select n from slot where id = 'a'`), await orm.em.fork().getConnection().execute(`select n from slot where id = 'b'`)].map((r) => Number(r[0].n));
    const one = lockInOrder('a', 'b', meet, tasks, 'one');
    const two = lockInOrder('b', 'a', meet, tasks, 'two');
    await Promise.all([transactionalRetrying(orm.em.fork() as Em, scope, one.work), transactionalRetrying(orm.em.fork() as Em, scope, two.work)]);

    expect(one.attempts() + two.attempts()).toBe(3);
    const loser = one.attempts() === 2 ? 'one' : 'two';
    expect(await retriesOf(operation)).toBe(before + 1);
    expect(logged.filter((l) => l.operation === operation && l.sqlState === '40P01')).toHaveLength(1);
    // Only the attempt that committed told anyone: the loser's first attempt queued a task that never ran.
    expect(tasks.sort()).toEqual([loser === 'one' ? 'one#2' : 'one#1', loser === 'two' ? 'two#2' : 'two#1'].sort());
    // Each transaction's two updates landed once.
    const rows = await orm.em.fork().getConnection().execute(`select id, n from slot order by id`);
    expect(rows.map((r) => Number(r.n))).toEqual([n1 + 2, n2 + 2]);
  });

  it('throws a unique violation (23505) at once: not transient, not retried', async () => {
    await orm.em.fork().getConnection().execute(`insert into once_only (k) values ('taken')`);
    const operation = 'testUnique';
    let attempts = 0;
    const run = transactionalRetrying(orm.em.fork() as Em, { service: 'invoicing', operation, logger }, async (em) => {
      attempts++;
      await em.getConnection().execute(`insert into once_only (k) values ('taken')`, [], 'run', em.getTransactionContext());
    });
    await expect(run).rejects.toMatchObject({ code: '23505' });
    expect(attempts).toBe(1);
    expect(await retriesOf(operation)).toBe(0);
  });

  it('throws a DomainError at once: the request is wrong, running it again changes nothing', async () => {
    const operation = 'testDomainError';
    let attempts = 0;
    const run = transactionalRetrying(orm.em.fork() as Em, { service: 'invoicing', operation, logger }, async () => {
      attempts++;
      throw new DomainError('INVOICE_NOT_FOUND', 'No such invoice');
    });
    await expect(run).rejects.toBeInstanceOf(DomainError);
    expect(attempts).toBe(1);
    expect(await retriesOf(operation)).toBe(0);
  });

  it('gives up after its attempts and throws the last 40P01', async () => {
    const operation = 'testGiveUp';
    let attempts = 0;
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const run = transactionalRetrying(orm.em.fork() as Em, { service: 'invoicing', operation, logger }, async () => {
      attempts++;
      throw deadlock;
    }, { attempts: 3, baseDelayMs: 1 });
    await expect(run).rejects.toBe(deadlock);
    expect(attempts).toBe(3);
    expect(await retriesOf(operation)).toBe(2);
  });
});
