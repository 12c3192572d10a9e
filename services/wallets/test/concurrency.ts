// Scaffolding for the tests that race copies of one request against each other (and against a wallet's opening):
// each party runs in its own transaction on its own connection, started together by a barrier.
import type { Db } from '../src/persistence/sql';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise every party awaits, resolved once all `parties` have their connection (inside their transaction). */
export function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    if (++arrived === parties) open();
    await opened;
  };
}

/**
 * `db` whose first transaction waits at `start` once it has its connection (so a use case that opens its own
 * transactions, and may run one again, races from the barrier, and only once), and then `before` (a head start or a
 * delay) before its work; `after` runs once the work is done, before the commit (a transaction held open a while).
 */
export function racingDb(db: Db, start: () => Promise<void>, opts: { before?: () => Promise<void>; after?: () => Promise<void> } = {}): Db {
  let started = false;
  return Object.assign(Object.create(db) as Db, {
    tx: <T>(work: Parameters<Db['tx']>[0]) => db.tx(async (sql) => {
      if (!started) {
        started = true;
        await start();
        await opts.before?.();
      }
      const result = (await work(sql)) as T;
      await opts.after?.();
      return result;
    }),
  });
}
