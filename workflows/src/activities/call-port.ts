// How every activity calls a port (a service over GraphQL, the payment provider, the network): with
// a timeout and the activity's cancellation, failures mapped to what the workflow's retry policy
// understands.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DomainError, toActivityFailure } from '../errors';

function isWorkerShutdown(reason: unknown): boolean {
  return reason instanceof CancelledFailure && reason.message === 'WORKER_SHUTDOWN';
}

/**
 * A caller of ports for one set of activities: `call('INVOICING', (o) => port.x(req, o))`. A port
 * that does not answer within `callTimeoutMs` is `<PORT>_TIMEOUT` (retryable); a call cut by the
 * worker shutting down is a retryable WORKER_SHUTDOWN, so the server hands the retry to another
 * worker at once instead of waiting for the start-to-close timeout; anything else goes through
 * toActivityFailure (DomainError codes decide retryable or not).
 */
export function portCaller(callTimeoutMs: number) {
  return async function call<T>(port: string, fn: (opts: { signal: AbortSignal }) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(callTimeoutMs);
    try {
      return await fn({ signal: AbortSignal.any([Context.current().cancellationSignal, timeout]) });
    } catch (err) {
      const cancelled = Context.current().cancellationSignal;
      if (timeout.aborted && !cancelled.aborted) {
        throw toActivityFailure(new DomainError(`${port}_TIMEOUT`, `${port} did not answer within ${callTimeoutMs} ms`, { retryable: true }));
      }
      if (cancelled.aborted && isWorkerShutdown(cancelled.reason)) throw ApplicationFailure.retryable(`${port} call interrupted by worker shutdown`, 'WORKER_SHUTDOWN');
      throw toActivityFailure(err);
    }
  };
}
