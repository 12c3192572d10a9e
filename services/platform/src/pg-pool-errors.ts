import type { Logger } from './logger';

/**
 * A `pg.Pool` emits 'error' when one of its idle connections fails (PostgreSQL restarted, a
 * failover, an administrator terminated the backend). Without a listener Node treats that as an
 * unhandled error and the whole service process exits; with one the pool drops the connection
 * and opens a new one on the next query. Queries in flight still fail and are retried by their
 * callers as any database error.
 */
export function logIdleConnectionErrors(pool: { on(event: 'error', listener: (error: Error) => void): unknown }, logger: Logger, what: string): void {
  // Not the error object itself: pg hangs the whole client (its parameters) on it.
  pool.on('error', (error) => logger.warn({ error: error.message, code: (error as { code?: string }).code }, `an idle ${what} connection to PostgreSQL failed; the pool replaces it`));
}
