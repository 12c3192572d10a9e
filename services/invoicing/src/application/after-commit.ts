// Work to do once the database transaction that asked for it has committed: signals to workflows
// about rows it wrote (sent before the commit, a workflow would read the rows as they were). A use
// case queues it with `afterCommit(em, task)` wherever it changes those rows, so every path that runs
// the use case (a mutation, the service's own runner, another use case calling it) tells the same
// way. Tasks are queued on the root transaction (a savepoint's wait for the outer commit) and run by
// the subscriber `registerAfterCommit` puts on the ORM once at start-up; a rollback drops them.
// Best effort: a task's failure is logged, never thrown into the committed caller.
import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import type { Em } from '@ledgerline/platform';

type Task = () => Promise<void>;
const queued = new WeakMap<object, Task[]>();

/** The outermost transaction of a (possibly nested, savepoint) knex transaction. */
function rootOf(trx: object): object {
  let t: any = trx;
  for (;;) {
    // MikroORM marks a savepoint's transaction with its parent under a private symbol.
    const parent = Object.getOwnPropertySymbols(t).find((s) => s.description === 'parentTransaction');
    if (!parent || !t[parent]) return t;
    t = t[parent];
  }
}

/** Runs `task` after `em`'s transaction commits (nothing if it rolls back). Outside a transaction: at once, not awaited. */
export function afterCommit(em: Em, task: Task): void {
  const trx = em.getTransactionContext() as object | undefined;
  if (!trx) {
    void task().catch(() => undefined);
    return;
  }
  const root = rootOf(trx);
  const list = queued.get(root);
  if (list) list.push(task);
  else queued.set(root, [task]);
}

/** Puts the subscriber that runs the queued tasks on the ORM's event manager (transactions begun afterwards see it). */
export function registerAfterCommit(em: Em, warn: (err: unknown, msg: string) => void): void {
  const subscriber: EventSubscriber = {
    async afterTransactionCommit(args: TransactionEventArgs) {
      const trx = args.transaction as object | undefined;
      const tasks = trx ? queued.get(trx) : undefined;
      if (!tasks) return;
      queued.delete(trx!);
      for (const task of tasks) await task().catch((err: unknown) => warn(err, 'a task after commit failed'));
    },
    async afterTransactionRollback(args: TransactionEventArgs) {
      if (args.transaction) queued.delete(args.transaction as object);
    },
  };
  em.getEventManager().registerSubscriber(subscriber);
}
