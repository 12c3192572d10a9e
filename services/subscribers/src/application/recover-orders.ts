import { LockMode } from '@mikro-orm/core';
import { ProductOrder } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import { DEFAULT_SAGA_LEASE_MS, newSagaOwner, runOrderSaga, type SagaDeps, type SagaOptions } from './order-saga';

export interface RecoveredOrder {
  orderId: string;
  /** The order as its resumed saga left it; absent when the run threw (`error`). */
  order?: ProductOrder;
  error?: unknown;
}

/**
 * The in-process saga's recovery sweep: takes over every order whose saga is not running and
 * resumes it (see `runOrderSaga`): ACKNOWLEDGED or IN_PROGRESS orders, and FAILED ones whose
 * network is still to be undone, whose lease has expired (`saga_lease_until <= now`), or that
 * never had one and have not moved for a lease's length (an order just placed is being handed over
 * by its placer; an order left by a process from before leases). The candidates are claimed in one
 * transaction with `for update skip locked` on PostgreSQL, each under a new lease: two sweeps (two
 * replicas) never take the same order, and a live saga (renewing its lease) is never touched.
 */
export async function recoverOrders(deps: SagaDeps, options: SagaOptions & { limit?: number } = {}): Promise<RecoveredOrder[]> {
  const leaseMs = options.leaseMs ?? DEFAULT_SAGA_LEASE_MS;
  const now = deps.clock.now();
  const claimed = await deps.orm.em.fork().transactional(async (em) => {
    const postgres = onPostgres(em);
    const due = await em.find(
      ProductOrder,
      {
        $and: [
          { $or: [{ status: { $in: ['ACKNOWLEDGED', 'IN_PROGRESS'] } }, { sagaCompensate: true }] },
          { $or: [{ sagaLeaseUntil: { $lte: now } }, { sagaLeaseUntil: null, updatedAt: { $lt: new Date(now.getTime() - leaseMs) } }] },
        ],
      },
      { limit: options.limit ?? 100, orderBy: { createdAt: 'asc', id: 'asc' }, ...(postgres ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}) },
    );
    for (const order of due) {
      order.sagaOwner = newSagaOwner();
      order.sagaLeaseUntil = new Date(now.getTime() + leaseMs);
    }
    await em.flush();
    return due.map((o) => ({ id: o.id, owner: o.sagaOwner! }));
  });
  if (claimed.length) deps.onCommit?.();
  return Promise.all(
    claimed.map((c) =>
      runOrderSaga(deps, c.id, options, c.owner).then(
        (order) => ({ orderId: c.id, order }),
        (error: unknown) => ({ orderId: c.id, error }),
      ),
    ),
  );
}
