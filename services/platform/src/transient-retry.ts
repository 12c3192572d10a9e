// A deadlock (40P01) or a serialization failure (40001) is PostgreSQL choosing a victim, not the
// request being wrong: the victim's transaction was rolled back whole, and the same work run again
// usually goes through (the other transaction has committed by then). Without a retry the victim
// answered its caller INTERNAL_SERVER_ERROR, or a consumer nak'd and re-applied its whole batch.
//
// Retrying is only safe for work whose every effect is inside the transaction (or is an after-commit
// hook that runs after the final commit, or an outside call idempotent by a key): a failed attempt
// leaves nothing behind, so running it again is the only attempt that ever counts.
import client from 'prom-client';
import type { Em } from './database';
import type { Logger } from './logger';

const TRANSIENT_SQLSTATES = new Set(['40P01', '40001']);

/** The SQLSTATE of a deadlock or serialization failure in `error` (or its causes), else null. */
export function transientSqlState(error: unknown): string | null {
  let e: unknown = error;
  // MikroORM copies the driver error's code onto its DeadlockException; a wrapper may keep it as `cause`.
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_SQLSTATES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * Retries by service and operation (a GraphQL mutation, a consumer) and SQLSTATE: a steady rate
 * means a lock-order cycle worth fixing (see invoicing's lock-order.ts), not noise.
 */
export const transactionRetries = new client.Counter({
  name: 'ledgerline_transaction_retries_total',
  help: 'Transactions run again after PostgreSQL rolled them back as a deadlock victim (40P01) or a serialization failure (40001)',
  labelNames: ['service', 'operation', 'sqlstate'],
  registers: [],
});

/** Where a retry is counted and logged. */
export interface RetryScope {
  service: string;
  operation: string;
  logger: Pick<Logger, 'warn'>;
}

export interface RetryPolicy {
  /** Runs in all, the first included (default 4). */
  attempts?: number;
  /** First pause in ms before jitter (default 20); doubled each time, at most 250 ms. */
  baseDelayMs?: number;
}

/** A pause between half and one and a half times the nominal one, so two victims do not collide again in step. */
function backoffMs(retry: number, base: number): number {
  const nominal = Math.min(250, base * 2 ** (retry - 1));
  return Math.round(nominal * (0.5 + Math.random()));
}

/**
 * Runs `attempt` (one whole transaction: begin, work, commit) and runs it again, after a short
 * jittered pause, when it failed as a deadlock victim or a serialization failure; any other error,
 * or the last attempt's, is thrown as it came.
 */
export async function retryTransientFailures<T>(scope: RetryScope, attempt: (n: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attempts = policy.attempts ?? 4;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const sqlState = transientSqlState(error);
      if (!sqlState) throw error;
      if (n >= attempts) {
        scope.logger.warn({ service: scope.service, operation: scope.operation, sqlState, attempts: n }, 'transaction failed as a deadlock or serialization victim on every attempt; giving up');
        throw error;
      }
      transactionRetries.inc({ service: scope.service, operation: scope.operation, sqlstate: sqlState });
      scope.logger.warn({ service: scope.service, operation: scope.operation, sqlState, attempt: n, err: (error as Error).message }, 'transaction rolled back as a deadlock or serialization victim; running it again');
      await new Promise((r) => setTimeout(r, backoffMs(n, policy.baseDelayMs ?? 20)));
    }
  }
}

/**
 * `em.transactional(work)`, run again on a deadlock or serialization failure. Before a new attempt the
 * entity manager is cleared: MikroORM merges a transaction's entities into it before the commit, and
 * shares them with the transaction's fork, so a failed attempt's changes would otherwise be read back
 * (and flushed) by the next one. Inside an enclosing transaction `work` is a savepoint, which cannot be
 * retried alone (the victim is the whole transaction): it runs once and the enclosing one decides.
 */
export async function transactionalRetrying<T>(em: Em, scope: RetryScope, work: (em: Em) => Promise<T>, policy?: RetryPolicy): Promise<T> {
  if (em.getTransactionContext()) return em.transactional((trx) => work(trx as Em));
  return retryTransientFailures(
    scope,
    (n) => {
      if (n > 1) em.clear();
      return em.transactional((trx) => work(trx as Em));
    },
    policy,
  );
}
