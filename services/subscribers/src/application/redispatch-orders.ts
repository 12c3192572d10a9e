import client from 'prom-client';
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import { ProductOrder } from '../persistence/entities';
import type { OrderDispatcher } from '../ports/order-dispatcher';
import type { OrderEffects } from './add-on-settlement';
import { addOnChargeToRefund, failEndedOrder, loadOrder, ORDER_FULFILMENT_ENDED, refundAddOn } from './fulfil-order';

/** Counts orders failed because their fulfilment run ended without settling them, by how it ended. */
export function endedOrdersCounter(registry: client.Registry): client.Counter<'status'> {
  return new client.Counter({
    name: 'ledgerline_subscribers_orders_fulfilment_ended_total',
    help: 'Orders failed (ORDER_FULFILMENT_ENDED) because their Temporal workflow ended without settling them, by how it ended (TERMINATED, FAILED, TIMED_OUT, CANCELLED)',
    labelNames: ['status'],
    registers: [registry],
  });
}

export interface RedispatchDeps {
  dispatcher: OrderDispatcher;
  /** Wallets and catalog, to give back an ADD_ON's charge a completion cut short may have taken. */
  effects?: OrderEffects | null;
  ended?: client.Counter<'status'>;
}

/**
 * The Temporal re-dispatch sweep (the inline saga has its recovery sweep instead). Orders left
 * ACKNOWLEDGED for `staleMs` (committed, never handed over: the dispatcher was down) or IN_PROGRESS
 * for 11 × `staleMs` are handed over again: a workflow per order id, so one running is joined. Then,
 * for each, its run is looked at (`endedRun`): one that ended without settling the order
 * (terminated, failed for good, timed out, cancelled) can never be started again (REJECT_DUPLICATE),
 * so the order is failed (`failEndedOrder`: FAILED, ORDER_FULFILMENT_ENDED, its event; the number
 * held back unless the network was never asked), logged as an error for staff and counted. An
 * ADD_ON so failed whose charge may have reached wallets is marked (`sagaCompensate`) and settled
 * here: its charge closed and, if taken, refunded; left marked while wallets cannot answer.
 * One order's failure does not stop the others; every step is idempotent.
 */
export async function redispatchOrders(runtime: ServiceRuntime, deps: RedispatchDeps, staleMs: number): Promise<void> {
  const stale = new Date(runtime.clock.now().getTime() - staleMs);
  const orders = await runtime.orm.em.fork().find(
    ProductOrder,
    {
      $or: [
        { status: 'ACKNOWLEDGED', createdAt: { $lt: stale } },
        { status: 'IN_PROGRESS', updatedAt: { $lt: new Date(stale.getTime() - 10 * staleMs) } },
        { status: 'FAILED', failureCode: ORDER_FULFILMENT_ENDED, sagaCompensate: true },
      ],
    },
    { limit: 100, orderBy: { createdAt: 'asc' } },
  );
  await Promise.all(
    orders.map((o) =>
      (o.status === 'FAILED' ? settleCharge(runtime, deps, o.id) : handOverOrFail(runtime, deps, o.id)).catch((err: unknown) =>
        runtime.logger.warn({ err, orderId: o.id }, 'order re-dispatch failed; tried again at the next sweep'),
      ),
    ),
  );
}

async function handOverOrFail(runtime: ServiceRuntime, deps: RedispatchDeps, orderId: string): Promise<void> {
  await deps.dispatcher.dispatch(orderId, runtime);
  const ended = await deps.dispatcher.endedRun?.(orderId);
  if (!ended) return;
  const r = await runtime.orm.em.fork().transactional(async (em) => {
    const result = await failEndedOrder(em as Em, orderId, ended, runtime.clock.now());
    if (result.failed && result.order.kind === 'ADD_ON' && result.order.sagaChargeAt) {
      result.order.sagaCompensate = true; // its charge may be in wallets: settled below, or at the next sweep
      await em.flush();
    }
    return result;
  });
  if (!r.failed) return;
  runtime.relay.nudge();
  deps.ended?.inc({ status: ended.status });
  runtime.logger.error(
    { orderId, kind: r.order.kind, lineId: r.order.lineId, billingAccountId: r.order.billingAccountId, run: ended.status, reason: ended.reason, networkUndone: r.order.networkUndoneAt !== null && r.order.networkUndoneAt !== undefined },
    'order failed: its fulfilment workflow ended without settling it',
  );
  if (r.order.sagaCompensate) await settleCharge(runtime, deps, orderId);
}

/** An ADD_ON failed so: its charge closed in wallets, and given back if wallets had taken it (once: the refund's fixed id). */
async function settleCharge(runtime: ServiceRuntime, deps: RedispatchDeps, orderId: string): Promise<void> {
  const effects = deps.effects;
  const refund = effects?.wallets ? await addOnChargeToRefund(runtime.orm.em.fork() as Em, { wallets: effects.wallets, catalog: effects.catalog }, orderId) : false;
  await runtime.orm.em.fork().transactional(async (em) => {
    const order = await loadOrder(em as Em, orderId);
    if (refund && order.status === 'FAILED') await refundAddOn(em as Em, order, runtime.clock.now());
    order.sagaCompensate = false;
    await em.flush();
  });
  runtime.relay.nudge();
}
