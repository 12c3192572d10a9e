// Bars and resumptions of collections holds the network refused, tried again by the service's sweep.
//
// A refused bar or resumption fails its order and the hold keeps that attempt (collections-holds.ts).
// The placement or lift asked again with its key tries again: the dunning's activity does so while
// it is told the line is `waiting`. But nobody asks again when the refusal comes after the answer
// (Temporal fulfilment: the order was handed over, the activity answered, then the workflow failed
// it), nor for the bar of a line gone live on a held account (`holdActivatedLine`: no caller), nor
// for an orphaned-holds sweep that restarted. So the service's sweep asks again itself, as that
// caller would: the same `placeCollectionsHold` / `liftCollectionsHold` with the request's key
// (`placedKey`, `liftedKey`), so a retry of the caller and the sweep's make one attempt between them
// (its key follows the refused one), and nothing is barred or resumed twice. Backoff: after n
// refusals of the hold's bar (or resumption) the next try waits min(first * 2^(n-1), max) from the
// last refusal.
import type { Em, Knex } from '@ledgerline/platform';
import { CollectionsHold, ProductOrder } from '../persistence/entities';
import { liftCollectionsHold, placeCollectionsHold } from './collections-holds';

export interface CollectionsRetryOptions {
  /** Wait after the first refusal (default 1 minute), doubled at each further refusal... */
  firstDelayMs?: number;
  /** ...up to this (default 1 hour). */
  maxDelayMs?: number;
  /** Holds looked at per sweep (default 100). */
  limit?: number;
}

export interface CollectionsRetryOutcome {
  /** Orders placed by the retries, ACKNOWLEDGED: the caller hands them to fulfilment. */
  orders: ProductOrder[];
  /** Retries not due yet (backoff). */
  notDue: number;
  /** Requests that could not be asked again now (logged by the caller; tried at the next sweep). */
  errors: { holdId: string; error: unknown }[];
}

/** Holds in force whose latest bar the network refused (FAILED) while their line is still ACTIVE. */
export function refusedBars(knex: Knex) {
  return knex('collections_hold as h')
    .join('product_order as o', 'o.id', 'h.bar_order_id')
    .join('line as l', 'l.id', 'h.line_id')
    .whereNull('h.lifted_at')
    .andWhere('o.status', 'FAILED')
    .andWhere('l.status', 'ACTIVE');
}

/**
 * Lifted holds whose latest resumption the network refused while their line, with no hold left and
 * no RESUME placed since (an agent's), is still BARRED.
 */
export function refusedResumes(knex: Knex) {
  return knex('collections_hold as h')
    .join('product_order as o', 'o.id', 'h.resume_order_id')
    .join('line as l', 'l.id', 'h.line_id')
    .whereNotNull('h.lifted_at')
    .andWhere('o.status', 'FAILED')
    .andWhere('l.status', 'BARRED')
    .whereNotExists(knex('collections_hold as x').select(knex.raw('1')).whereRaw('x.line_id = h.line_id').whereNull('x.lifted_at'))
    .whereNotExists(knex('product_order as r').select(knex.raw('1')).whereRaw('r.line_id = h.line_id').andWhere('r.kind', 'RESUME').andWhereRaw('r.created_at > o.created_at'));
}

/** The wait before the next try after `refusals` refused attempts. */
export function collectionsRetryDelayMs(refusals: number, o: CollectionsRetryOptions = {}): number {
  const first = o.firstDelayMs ?? 60_000;
  const max = o.maxDelayMs ?? 3_600_000;
  return Math.min(max, first * 2 ** Math.max(0, Math.min(refusals - 1, 30)));
}

/**
 * Asks again, with its key, each placement whose hold's bar the network refused while the line is
 * still ACTIVE, and each lift whose resumption it refused while the line, with no hold left, is
 * still BARRED, once its backoff has passed. `em` reads; each request runs in its own transaction.
 */
export async function retryRefusedCollectionsOrders(em: Em, now: Date, o: CollectionsRetryOptions = {}): Promise<CollectionsRetryOutcome> {
  const knex = em.getKnex();
  const limit = o.limit ?? 100;
  const barIds: { id: string }[] = await refusedBars(knex).select('h.id').orderBy('h.id').limit(limit);
  const resumeIds: { id: string }[] = await refusedResumes(knex).select('h.id').orderBy('h.id').limit(limit);
  const out: CollectionsRetryOutcome = { orders: [], notDue: 0, errors: [] };
  const asked = new Set<string>();
  const holds = await em.find(CollectionsHold, { id: { $in: [...barIds, ...resumeIds].map((r) => r.id) } }, { orderBy: { id: 'asc' } });
  for (const hold of holds) {
    const lift = hold.liftedAt != null;
    const failed = await em.findOne(ProductOrder, { id: (lift ? hold.resumeOrderId : hold.barOrderId)! });
    if (!failed || failed.status !== 'FAILED') continue;
    const since = lift ? hold.liftedAt! : hold.placedAt;
    const refusals = await em.count(ProductOrder, { lineId: hold.lineId, kind: failed.kind, status: 'FAILED', createdAt: { $gte: since } });
    if (failed.updatedAt.getTime() + collectionsRetryDelayMs(refusals, o) > now.getTime()) {
      out.notDue += 1;
      continue;
    }
    const key = lift ? hold.liftedKey! : hold.placedKey;
    const request = `${lift ? 'lift' : 'place'}\u001f${hold.billingAccountId}\u001f${key}`;
    if (asked.has(request)) continue; // one request covers every line of the account it took
    asked.add(request);
    // The reason the request gave (the refused order carries it), as the caller's own retry gives it.
    const reason = (JSON.parse(failed.request) as { reason?: string | null }).reason ?? null;
    const c = { billingAccountId: hold.billingAccountId, holder: hold.holder, reason, idempotencyKey: key, now };
    try {
      const r = await em.fork().transactional((tx) => (lift ? liftCollectionsHold(tx as Em, c) : placeCollectionsHold(tx as Em, c)));
      out.orders.push(...r.orders.filter((x) => x.status === 'ACKNOWLEDGED'));
    } catch (error) {
      out.errors.push({ holdId: hold.id, error });
    }
  }
  return out;
}
