import { randomUUID } from 'node:crypto';
import { DomainError } from '@ledgerline/contracts';
import { createLogger, internalErrorMessage, logInternalError, type Clock, type Em, type Logger, type Orm } from '@ledgerline/platform';
import type { ProvisioningAdapter, ProvisioningRequest } from '../ports/provisioning';
import { Line, ProductOrder } from '../persistence/entities';
import { addOnChargeToRefund, completeOrder, failOrder, fixAddOnSettlementInstant, loadOrder, ordersAfterCompletion, provisioningRequest, refundAddOn, startOrder } from './fulfil-order';
import type { OrderEffects } from './add-on-settlement';

export interface SagaOptions {
  /** Attempts of the provisioning call before the order fails (default 3). */
  attempts?: number;
  /** Longest wait for one provisioning call (default 10 s). */
  callTimeoutMs?: number;
  /** Wait before the first retry, doubled each time (default 200 ms). */
  backoffMs?: number;
  /**
   * How long a run holds its order without renewing the lease (default 30 s, on the service's
   * clock). A running saga renews it every third of that; once it has expired, the recovery sweep
   * (`recoverOrders`) takes the order over.
   */
  leaseMs?: number;
}

export interface SagaDeps {
  orm: Orm;
  clock: Clock;
  provisioning: ProvisioningAdapter;
  effects?: OrderEffects;
  onCommit?: () => void;
  /**
   * Aborted when the process running the saga stops (or, in tests, "crashes"): the saga takes no
   * step after it and stops renewing its lease, so another runner resumes the order once it expires.
   */
  signal?: AbortSignal;
  /**
   * Where an order failed by an internal error (not a coded refusal) is logged, under the reference its
   * `failureMessage` quotes (the service's logger; a logger of its own when absent, in tests).
   */
  logger?: Logger;
}

export const DEFAULT_SAGA_LEASE_MS = 30_000;

/** A saga run that stopped without finishing (process stopping, lease lost): the recovery sweep resumes it. */
export class SagaAbandoned extends Error {
  constructor(orderId: string, why: string) {
    super(`The saga of order ${orderId} stopped (${why}); the recovery sweep resumes it`);
    this.name = 'SagaAbandoned';
  }
}

/** A token naming one run of a saga (the lease holder). */
export const newSagaOwner = (): string => `run_${randomUUID().replace(/-/g, '')}`;

/**
 * Fulfils one order in-process, the same steps as the Temporal order workflow:
 * start → provisioning.execute (retried, with a timeout) → complete; if execute fails for good,
 * or completing is refused, fail the order and then compensate on the network (unless the order
 * turns out COMPLETED). Used when no Temporal server is configured (ORDER_FULFILMENT unset).
 *
 * Crash safety (what Temporal's history gives the workflow): a run first takes the order's lease
 * (`saga_owner`, `saga_lease_until`, row-locked) and renews it while it runs; a run that finds the
 * lease held by a live run leaves the order alone. Every database step checks, under the order's
 * row lock, that this run still holds the lease (a run that stalled past its lease stops there).
 * A run whose process died is resumed by `recoverOrders` once its lease expired, from the state
 * the database holds: IN_PROGRESS → execute again (same idempotency key: the network applies it
 * once) and complete (idempotent: deterministic charge ids, wallets keys); a failure the saga
 * decided on (`saga_failure`, recorded before failing) → fail again and compensate; FAILED with
 * `saga_compensate` → compensate again. `owner` is the lease a sweep claimed for this run.
 */
export async function runOrderSaga(deps: SagaDeps, orderId: string, options: SagaOptions = {}, owner?: string): Promise<ProductOrder> {
  const leaseMs = options.leaseMs ?? DEFAULT_SAGA_LEASE_MS;
  const run = owner ?? newSagaOwner();
  const tx = async <T>(work: (em: Em) => Promise<T>): Promise<T> => {
    const result = await deps.orm.em.fork().transactional((em) => work(em as Em));
    deps.onCommit?.();
    return result;
  };
  if (deps.signal?.aborted) throw new SagaAbandoned(orderId, 'its process is stopping');
  const claimed = await tx((em) => claimOrder(em, orderId, run, deps.clock.now(), leaseMs));
  if (!claimed.held) return claimed.order;

  // Renew the lease while this run lives; a renewal that finds another holder means it was lost.
  let lost = false;
  const renew = setInterval(
    () => {
      void deps.orm.em
        .fork()
        .nativeUpdate(ProductOrder, { id: orderId, sagaOwner: run }, { sagaLeaseUntil: new Date(deps.clock.now().getTime() + leaseMs) })
        .then((n) => {
          if (n === 0) lost = true;
        })
        .catch(() => undefined); // the database away: the lease runs out, as it should
    },
    Math.max(10, Math.floor(leaseMs / 3)),
  );
  renew.unref();
  const stopRenewing = () => clearInterval(renew);
  deps.signal?.addEventListener('abort', stopRenewing, { once: true });
  const guard = () => {
    if (deps.signal?.aborted) throw new SagaAbandoned(orderId, 'its process is stopping');
    if (lost) throw new SagaAbandoned(orderId, 'its lease was taken over');
  };
  /** A step in one transaction, under the order's row lock, only while this run holds the lease. */
  const fenced = async <T>(work: (em: Em, order: ProductOrder) => Promise<T>): Promise<T> => {
    guard();
    return tx(async (em) => {
      const order = await loadOrder(em, orderId);
      if (order.sagaOwner !== run) {
        lost = true;
        throw new SagaAbandoned(orderId, 'its lease was taken over');
      }
      return work(em, order);
    });
  };
  try {
    return await resume(deps, orderId, claimed.order, { ...options, leaseMs }, { fenced, guard, tx, run });
  } finally {
    stopRenewing();
    deps.signal?.removeEventListener('abort', stopRenewing);
  }
}

/**
 * Takes the order's lease for `owner`, if the order still has saga work (open, or FAILED with its
 * network not yet undone) and no other live run holds it; an ACKNOWLEDGED order is started.
 */
async function claimOrder(em: Em, orderId: string, owner: string, now: Date, leaseMs: number): Promise<{ order: ProductOrder; held: boolean }> {
  const order = await loadOrder(em, orderId);
  const due = order.status === 'ACKNOWLEDGED' || order.status === 'IN_PROGRESS' || order.sagaCompensate;
  const free = order.sagaOwner === owner || !order.sagaLeaseUntil || order.sagaLeaseUntil.getTime() <= now.getTime();
  if (!due || !free) return { order, held: false };
  order.sagaOwner = owner;
  order.sagaLeaseUntil = new Date(now.getTime() + leaseMs);
  if (order.status === 'ACKNOWLEDGED') await startOrder(em, orderId, now);
  else await em.flush();
  return { order, held: true };
}

interface Steps {
  fenced: <T>(work: (em: Em, order: ProductOrder) => Promise<T>) => Promise<T>;
  guard: () => void;
  tx: <T>(work: (em: Em) => Promise<T>) => Promise<T>;
  /** This run's lease token. */
  run: string;
}

async function resume(deps: SagaDeps, orderId: string, claimed: ProductOrder, options: SagaOptions & { leaseMs: number }, steps: Steps): Promise<ProductOrder> {
  const { fenced, guard, run } = steps;
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const backoffMs = options.backoffMs ?? 200;
  let backoff = backoffMs;
  const failureOf = (error: unknown, step: string) => describe(error, timeoutMs, deps.logger ?? fallbackLogger(), { orderId, kind: claimed.kind, step });
  // A line gone (terminated, or its row removed) since the order was placed: nothing to provision
  // or undo on the network for it (undoing could bring a terminated number back), so the order
  // fails, its charge refunded, instead of being resumed at every lease.
  const line = await deps.orm.em.fork().findOne(Line, { id: claimed.lineId });
  const request = line && line.status !== 'TERMINATED' ? await provisioningRequest(deps.orm.em.fork() as Em, orderId) : null;
  const callSignal = () => (deps.signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), deps.signal]) : AbortSignal.timeout(timeoutMs));
  const compensate = () => compensateOrder(deps, orderId, request, callSignal, steps);

  // FAILED, its network not undone (or its charge not refunded) yet: the run that failed it died before.
  if (claimed.status === 'FAILED') {
    await compensate();
    return claimed;
  }

  // A failure an earlier run decided on but could not record (its failOrder refused, or it died
  // before): fail it, do not provision again.
  let failure: { code: string; message: string } | null = claimed.sagaFailure ? (JSON.parse(claimed.sagaFailure) as { code: string; message: string }) : null;
  if (!failure) {
    if (!request) {
      failure = { code: 'ORDER_LINE_GONE', message: `Line ${claimed.lineId} of order ${orderId} is ${line ? line.status : 'gone'}; the order cannot be fulfilled` };
    } else {
      for (let attempt = 1; ; attempt++) {
        guard();
        try {
          await deps.provisioning.execute(request, { signal: callSignal() });
          failure = null;
          break;
        } catch (error) {
          guard();
          const retryable = !(error instanceof DomainError) || error.details.retryable !== false;
          if (!retryable || attempt >= attempts) {
            failure = failureOf(error, 'provisioning'); // the last attempt's, told (and logged) once
            break;
          }
          await new Promise((r) => setTimeout(r, backoff));
          backoff *= 2;
        }
      }
      if (!failure) {
        try {
          await fixSettlementInstant(deps, fenced, claimed);
          const completed = await completeWithRetries(deps, orderId, fenced, guard, attempts, backoffMs);
          // The completion's own orders (a collections bar of a line gone live on a held account), run
          // now. Never throws: this order is COMPLETED whatever becomes of them, and one that cannot
          // run now (the database) is left ACKNOWLEDGED for the recovery sweep.
          await ordersAfterCompletion(deps.orm.em.fork() as Em, completed)
            .then(async (next) => {
              for (const o of next) await runOrderSaga(deps, o.id, options);
            })
            .catch(() => undefined);
          return completed;
        } catch (error) {
          if (error instanceof SagaAbandoned) throw error;
          failure = failureOf(error, 'completion');
        }
      }
    }
    // Record the decision before acting on it, so a failOrder the database refuses is retried
    // (by the sweep) rather than the order provisioned again. Not recorded (the database away):
    // failOrder is tried anyway; if that fails too, the sweep resumes from the start.
    const decided = failure;
    const recorded = await fenced(async (em, order) => {
      if (order.status === 'COMPLETED') return order;
      order.sagaFailure = JSON.stringify(decided);
      await em.flush();
      return order;
    }).catch((error: unknown) => {
      if (error instanceof SagaAbandoned) throw error;
      return null;
    });
    if (recorded?.status === 'COMPLETED') return recorded;
  }

  // Record the failure first, then undo the network (as the workflow does, patch
  // `order-fail-before-compensating`): once FAILED the order can no longer complete. An order that
  // refuses to fail because its completion landed after all (an answer lost, another runner) is
  // COMPLETED and live in billing, so the network keeps it.
  const decided = failure;
  let failed: ProductOrder;
  try {
    failed = await fenced(async (em, order) => {
      if (order.status === 'COMPLETED') return order;
      const f = await failOrder(em, orderId, decided, deps.clock.now());
      f.sagaCompensate = true; // cleared once the network is undone (and an ADD_ON's charge refunded)
      f.sagaFailure = null;
      await em.flush();
      return f;
    });
  } catch (error) {
    if (error instanceof SagaAbandoned) throw error;
    const current = await deps.orm.em.fork().findOne(ProductOrder, { id: orderId });
    if (current?.status === 'COMPLETED') return current;
    if (current?.status === 'FAILED') {
      await compensate(); // it did fail; only the answer was lost
      return current;
    }
    // A refusal (e.g. the order is gone): still undo the network.
    if (error instanceof DomainError) {
      await compensate();
      throw error;
    }
    // Anything else (the database): the order stays IN_PROGRESS with its failure recorded, the
    // network as it is (undoing it for an order that may still complete is the mistake this order
    // of steps avoids). The lease is given up so the sweep retries the failOrder at its next round.
    await giveUpLease(deps, orderId, run);
    throw error;
  }
  if (failed.status === 'COMPLETED') return failed;
  await compensate();
  return failed;
}

/** Fixes the instant an ADD_ON's charge and grants are dated (its own commit) before the completion first asks wallets (`fixAddOnSettlementInstant`). */
async function fixSettlementInstant(deps: SagaDeps, fenced: Steps['fenced'], claimed: ProductOrder): Promise<void> {
  if (claimed.kind !== 'ADD_ON' || claimed.sagaChargeAt) return; // no transaction for the other orders
  await fenced((em, order) => fixAddOnSettlementInstant(em, order, deps.clock.now(), deps.effects?.wallets));
}

/**
 * `completeOrder`, tried again (bounded, with the provisioning call's backoff) while it fails with
 * an error its port marks retryable (wallets unreachable): each try charges and grants under the
 * same keys with the same data (dated at the instant fixed before the first try), so a charge or a
 * bucket wallets took before the outage is kept for the add-on, not refused as another request.
 */
async function completeWithRetries(deps: SagaDeps, orderId: string, fenced: Steps['fenced'], guard: () => void, attempts: number, backoffMs: number): Promise<ProductOrder> {
  let backoff = backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fenced(async (em, order) => {
        order.sagaLeaseUntil = null; // saved with the completion (flushed by completeOrder)
        return completeOrder(em, orderId, deps.clock.now(), deps.effects);
      });
    } catch (error) {
      const retryable = error instanceof DomainError && error.details.retryable === true;
      if (!retryable || attempt >= attempts) throw error;
      await new Promise((r) => setTimeout(r, backoff));
      backoff *= 2;
      guard();
    }
  }
}

/**
 * Compensates a FAILED order: undoes its network (not for a line gone: `request` null), then, for
 * an ADD_ON whose charge may have reached wallets, settles that charge and refunds it if wallets
 * took it; then clears `saga_compensate` (and the lease). A step that cannot be done now gives the
 * lease up, so the sweep compensates again; every step is idempotent (the network's key, wallets'
 * charge id, the refund's fixed id made under the order's lock, once).
 */
async function compensateOrder(
  deps: SagaDeps,
  orderId: string,
  request: ProvisioningRequest | null,
  callSignal: () => AbortSignal,
  { fenced, guard, run }: Pick<Steps, 'fenced' | 'guard' | 'run'>,
): Promise<void> {
  guard();
  let refund = false;
  try {
    if (request) await deps.provisioning.compensate(request, { signal: callSignal() });
    refund = await chargeToRefund(deps, orderId);
  } catch (error) {
    guard();
    await giveUpLease(deps, orderId, run); // the sweep compensates again
    throw error;
  }
  guard();
  await fenced(async (em, order) => {
    if (refund && order.status === 'FAILED') await refundAddOn(em, order, deps.clock.now());
    // Only when the network was asked and answered: an order of a line gone was never undone there.
    if (request && order.status === 'FAILED') order.networkUndoneAt ??= deps.clock.now();
    order.sagaCompensate = false;
    order.sagaLeaseUntil = null;
    await em.flush();
  }).catch((error: unknown) => {
    if (error instanceof SagaAbandoned) throw error;
    // Not cleared: the sweep compensates again (compensation is idempotent), then clears it.
  });
}

/** Whether the FAILED order's ADD_ON charge is in wallets, so to be refunded (`addOnChargeToRefund`). */
async function chargeToRefund(deps: SagaDeps, orderId: string): Promise<boolean> {
  // Wallets gone from the configuration since: nothing can be asked or given back here.
  const wallets = deps.effects?.wallets;
  return wallets ? addOnChargeToRefund(deps.orm.em.fork() as Em, { wallets, catalog: deps.effects!.catalog }, orderId) : false;
}

/** Lets the recovery sweep take the order at its next round (the lease ends now). */
async function giveUpLease(deps: SagaDeps, orderId: string, run: string): Promise<void> {
  await deps.orm.em
    .fork()
    .nativeUpdate(ProductOrder, { id: orderId, sagaOwner: run }, { sagaLeaseUntil: deps.clock.now() })
    .catch(() => undefined);
}

let defaultLogger: Logger | null = null;
const fallbackLogger = (): Logger => (defaultLogger ??= createLogger('subscribers'));

/**
 * The failure an order is failed with, as the customer reads it (`ProductOrder.failureMessage`): a coded refusal
 * (DomainError: the network's, the service's own) keeps its message, written for the customer; a call that timed out
 * says so; anything else (PostgreSQL's text, a driver's, a bug) is "internal error (reference …)", the error itself
 * logged under that reference for staff (house rule of platform's internal-errors.ts).
 */
function describe(error: unknown, timeoutMs: number, logger: Logger, fields: Record<string, unknown>): { code: string; message: string } {
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  const e = error as Error;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { code: 'PROVISIONING_TIMEOUT', message: `The provisioning system did not answer within ${timeoutMs} ms` };
  return { code: 'PROVISIONING_FAILED', message: internalErrorMessage(logInternalError(logger, error, 'order failed by an internal error', fields)) };
}
