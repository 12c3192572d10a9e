import { DomainError } from '@ledgerline/contracts';
import type { Clock, Em, Orm } from '@ledgerline/platform';
import type { ProvisioningAdapter } from '../ports/provisioning';
import { ProductOrder } from '../persistence/entities';
import { completeOrder, failOrder, ordersAfterCompletion, provisioningRequest, startOrder } from './fulfil-order';
import type { OrderEffects } from './add-on-settlement';

export interface SagaOptions {
  /** Attempts of the provisioning call before the order fails (default 3). */
  attempts?: number;
  /** Longest wait for one provisioning call (default 10 s). */
  callTimeoutMs?: number;
  /** Wait before the first retry, doubled each time (default 200 ms). */
  backoffMs?: number;
}

/**
 * Fulfils one order in-process, the same steps as the Temporal order workflow:
 * start → provisioning.execute (retried, with a timeout) → complete; if execute fails for good,
 * or completing is refused, fail the order and then compensate on the network (unless the order
 * turns out COMPLETED).
 * Used when no Temporal server is configured (development, tests).
 */
export async function runOrderSaga(deps: { orm: Orm; clock: Clock; provisioning: ProvisioningAdapter; effects?: OrderEffects; onCommit?: () => void }, orderId: string, options: SagaOptions = {}): Promise<ProductOrder> {
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  let backoff = options.backoffMs ?? 200;
  const tx = async <T>(work: (em: Em) => Promise<T>): Promise<T> => {
    const result = await deps.orm.em.fork().transactional((em) => work(em as Em));
    deps.onCommit?.();
    return result;
  };

  const started = await tx((em) => startOrder(em, orderId, deps.clock.now()));
  if (started.status !== 'IN_PROGRESS') return started;
  const request = await provisioningRequest(deps.orm.em.fork() as Em, orderId);

  let failure: { code: string; message: string } | null = null;
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.provisioning.execute(request, { signal: AbortSignal.timeout(timeoutMs) });
      failure = null;
      break;
    } catch (error) {
      failure = describe(error, timeoutMs);
      const retryable = !(error instanceof DomainError) || error.details.retryable !== false;
      if (!retryable || attempt >= attempts) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff *= 2;
    }
  }
  if (!failure) {
    try {
      const completed = await tx((em) => completeOrder(em, orderId, deps.clock.now(), deps.effects));
      // The completion's own orders (a collections bar of a line gone live on a held account), run
      // now. Never throws: this order is COMPLETED whatever becomes of them, and one that cannot
      // run now (the database) is left ACKNOWLEDGED for the re-dispatch sweep.
      await ordersAfterCompletion(deps.orm.em.fork() as Em, completed)
        .then(async (next) => {
          for (const o of next) await runOrderSaga(deps, o.id, options);
        })
        .catch(() => undefined);
      return completed;
    } catch (error) {
      failure = describe(error, timeoutMs);
    }
  }
  // Record the failure first, then undo the network (as the workflow does, patch
  // `order-fail-before-compensating`): once FAILED the order can no longer complete. An order that
  // refuses to fail because its completion landed after all (an answer lost, another runner) is
  // COMPLETED and live in billing, so the network keeps it.
  const compensate = () => deps.provisioning.compensate(request, { signal: AbortSignal.timeout(timeoutMs) });
  let failed: ProductOrder;
  try {
    failed = await tx((em) => failOrder(em, orderId, failure, deps.clock.now()));
  } catch (error) {
    const current = await deps.orm.em.fork().findOne(ProductOrder, { id: orderId });
    if (current?.status === 'COMPLETED') return current;
    if (current?.status === 'FAILED') {
      await compensate(); // it did fail; only the answer was lost
      return current;
    }
    // A refusal (e.g. the order is gone): still undo the network. Anything else (the database)
    // leaves the order IN_PROGRESS and the network as it is, as a crash would: undoing the
    // network of an order that may still complete is the mistake this order of steps avoids.
    if (error instanceof DomainError) await compensate();
    throw error;
  }
  await compensate();
  return failed;
}

function describe(error: unknown, timeoutMs: number): { code: string; message: string } {
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  const e = error as Error;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { code: 'PROVISIONING_TIMEOUT', message: `The provisioning system did not answer within ${timeoutMs} ms` };
  return { code: 'PROVISIONING_FAILED', message: e?.message ?? String(error) };
}
