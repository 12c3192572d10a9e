import { randomUUID } from 'node:crypto';
import type { Logger } from './logger';

/**
 * An unexpected failure answered to a caller outside the service (a NATS reply that usage passes on to a network
 * element or partner): "internal error" and a reference to quote, never the failure's own text (PostgreSQL's, a
 * driver's: table and column names, addresses). The failure is logged with the same reference, as
 * `dependencyUnavailable`'s cause and the gateway's "could not answer" keep the details in the log.
 */
export function internalErrorAnswer(logger: Logger, error: unknown, what: string, fields: Record<string, unknown> = {}): { code: 'INTERNAL'; message: string } {
  const reference = randomUUID();
  logger.error({ err: error, reference, ...fields }, what);
  return { code: 'INTERNAL', message: `internal error (reference ${reference})` };
}
