import { randomUUID } from 'node:crypto';
import type { Logger } from './logger';

/**
 * Logs an unexpected failure at error level with a fresh reference, and returns it: the answer quotes the reference
 * instead of the failure's own text, so a caller's report (a support ticket) finds the log line that has the details.
 */
export function logInternalError(logger: Logger, error: unknown, what: string, fields: Record<string, unknown> = {}): string {
  const reference = randomUUID();
  logger.error({ err: error, reference, ...fields }, what);
  return reference;
}

/** What an answer outside the service says of a failure logged with `reference`. */
export function internalErrorMessage(reference: string): string {
  return `internal error (reference ${reference})`;
}

/**
 * An unexpected failure answered to a caller outside the service (a NATS reply that usage passes on to a network
 * element or partner): "internal error" and a reference to quote, never the failure's own text (PostgreSQL's, a
 * driver's: table and column names, addresses). The failure is logged with the same reference, as
 * `dependencyUnavailable`'s cause and the gateway's "could not answer" keep the details in the log.
 */
export function internalErrorAnswer(logger: Logger, error: unknown, what: string, fields: Record<string, unknown> = {}): { code: 'INTERNAL'; message: string } {
  return { code: 'INTERNAL', message: internalErrorMessage(logInternalError(logger, error, what, fields)) };
}
