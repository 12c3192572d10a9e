import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { conflict, notFound, type DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { transitionLine } from '../domain/lifecycle';
import { LINE_ACTION_OF, type OrderKind } from '../domain/order';
import { assertOptionalIdempotencyKey } from '../domain/validation';
import { feesOn, planTerms, type FeeTrigger, type PlanFee } from '../domain/plan-terms';
import { CollectionsHold, Line, ProductOrder, Subscription } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import type { LineOrderResult } from './add-line';
import type { PlanFeesRequest, SubscriptionFees } from './plan-fees';
import { findReplayedLineOrder, findReplayedOrder, placeOrder } from './place-order';
import { applyDueSubscriptions } from './activate-due-subscriptions';
import { lockLine } from './line-lock';

export { lockLine } from './line-lock';

export interface LineChangeCommand {
  kind: Extract<OrderKind, 'SUSPEND' | 'RESUME' | 'TERMINATE' | 'BAR'>;
  lineId: string;
  reason?: string | null;
  idempotencyKey?: string | null;
  now: Date;
}

/**
 * Orders a lifecycle change. Refused at once (CONFLICT) when the line's status does not allow it,
 * when another order for the line is still open, or (RESUME) while a collections hold is left on
 * the line: an unpaid invoice's dunning holds it, and only lifting the hold (`liftCollectionsHold`,
 * which resumes the line when its last hold goes) switches it back on. A TERMINATE order carries the
 * TERMINATION fees of each plan the line may be on when it completes (read from `catalog`, see
 * `planFeesOfLine`); completion charges those of the plan then in force.
 */
export async function requestLineChange(em: Em, c: LineChangeCommand, catalog: CatalogClient | null = null): Promise<LineOrderResult> {
  const { now, ...input } = c;
  assertOptionalIdempotencyKey(c.idempotencyKey);
  // The key first (its lock, then the line's: see findReplayedOrder): a retry sent while the first
  // request runs waits for it and gets its order. The catalog is asked before the line is locked
  // (it may take seconds; not for a replay, which needs no fees), and under the lock only for a
  // plan it did not show then.
  const early = await findReplayedLineOrder(em, c.lineId, c.idempotencyKey, c.kind, input);
  if (early) return { order: early, line: await em.findOneOrFail(Line, { id: early.lineId }) };
  const read = c.kind === 'TERMINATE' ? await planFeesOfLine(em, catalog, c.lineId, 'TERMINATION') : null;
  // Locked before the checks: a second request for the line waits here, then sees this order
  // (a replay of its idempotency key, or refused as a later request would be).
  const line = await lockLine(em, c.lineId);
  const replay = await findReplayedOrder(em, line?.billingAccountId, c.idempotencyKey, c.kind, input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }) };
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  // A plan change due since the boundary is started first (the sweep's own step, see
  // applyDueSubscriptions), so the order is decided and its fees read on the plan in force now.
  await applyDueSubscriptions(em, line, now);
  transitionLine(line.status as never, LINE_ACTION_OF[c.kind]!, 'input.lineId');
  if (c.kind === 'RESUME') await assertNotHeldForCollections(em, line.id);
  await assertNoOpenOrder(em, line.id);
  const termination: PlanFeesRequest = read ? { planFees: (await planFeesOfLine(em, catalog, line.id, 'TERMINATION', read.byVersion)).planFees } : {};
  const order = placeOrder(em, { kind: c.kind, billingAccountId: line.billingAccountId, lineId: line.id, request: { reason: c.reason ?? null, ...termination }, idempotencyKey: c.idempotencyKey, input, now });
  await flushOrder(em);
  return { line, order };
}

/**
 * The `trigger` fees (TERMINATION, SIM_REPLACEMENT) of every plan the line may be on when an order
 * placed now completes: its ACTIVE subscription and its SCHEDULED one (an END_OF_CYCLE change may
 * fall due before the order completes; no other change can come, one open order per line). A line
 * that never went live (PENDING, cancelled) was never on its plan and owes none, nor does a line
 * without a plan. `known`: plan version → fees already read (before the line was locked); only the
 * others are asked of the catalog. Called under the lock, the subscriptions are read afresh.
 */
export async function planFeesOfLine(
  em: Em,
  catalog: CatalogClient | null,
  lineId: string,
  trigger: FeeTrigger,
  known?: ReadonlyMap<string, PlanFee[]>,
): Promise<{ planFees: SubscriptionFees[]; byVersion: Map<string, PlanFee[]> }> {
  const subs = await em.find(Subscription, { lineId, status: { $in: ['ACTIVE', 'SCHEDULED'] } }, { orderBy: { startsAt: 'asc', id: 'asc' }, ...(known ? { refresh: true } : {}) });
  const byVersion = new Map(known ?? []);
  for (const sub of subs) {
    if (byVersion.has(sub.planVersionId)) continue;
    // Never skipped for want of a catalog: a fee silently not charged is what this prevents.
    if (!catalog) throw new Error(`An order charging ${trigger} fees needs the catalog to read the plan's fees`);
    const document = await catalog.planVersionDocument(sub.planVersionId);
    if (document == null) throw notFound('PlanVersion', sub.planVersionId, 'input.lineId');
    byVersion.set(sub.planVersionId, feesOn(planTerms(document), trigger));
  }
  return { planFees: subs.map((s) => ({ subscriptionId: s.id, fees: byVersion.get(s.planVersionId)! })), byVersion };
}

/**
 * A line with a collections hold left is not resumed by an order: the hold is lifted instead
 * (`liftCollectionsHold`, staff), which resumes it once no hold is left. Read under the line's lock,
 * which placing and lifting holds take too.
 */
async function assertNotHeldForCollections(em: Em, lineId: string): Promise<void> {
  const holds = await em.find(CollectionsHold, { lineId, liftedAt: null }, { orderBy: { placedAt: 'asc', id: 'asc' } });
  if (holds.length === 0) return;
  const holders = [...new Set(holds.map((h) => h.holder))];
  throw conflict(
    'LINE_HELD_FOR_COLLECTIONS',
    `Line ${lineId} is held for collections by ${holders.join(', ')}; lift the hold with liftCollectionsHold to resume it`,
    { field: 'input.lineId', holders },
  );
}

/**
 * One open order per line. Takes the line's lock first (see `lockLine`), so a concurrent order
 * for the same line is either seen here or waits for this transaction; the partial unique index
 * `product_order_line_open_unique` backs it (see `flushOrder`).
 */
export async function assertNoOpenOrder(em: Em, lineId: string): Promise<void> {
  await lockLine(em, lineId);
  const open = await em.findOne(ProductOrder, { lineId, status: { $in: ['ACKNOWLEDGED', 'IN_PROGRESS'] } });
  if (open) {
    throw conflict('ORDER_ALREADY_OPEN', `Order ${open.id} (${open.kind}) for this line is still ${open.status}`, { field: 'input.lineId', orderId: open.id });
  }
}

/**
 * The coded CONFLICT for a violation of one of the per-line unique indexes (the index name on
 * PostgreSQL; table and column on SQLite), or null for any other error.
 */
export function lineUniqueConflict(error: unknown): DomainError | null {
  if (!(error instanceof UniqueConstraintViolationException)) return null;
  const constraint = (error as { constraint?: string }).constraint ?? '';
  const message = error.message;
  if (constraint === 'product_order_line_open_unique' || message.includes('product_order.line_id')) {
    return conflict('ORDER_ALREADY_OPEN', 'Another order for this line is still open', { field: 'input.lineId' });
  }
  if (constraint === 'subscription_line_scheduled_unique' || message.includes('subscription.line_id')) {
    return conflict('PLAN_CHANGE_ALREADY_SCHEDULED', 'A plan change is already scheduled for this line', { field: 'input.lineId' });
  }
  if (constraint === 'line_iccid_live_unique' || message.includes('line.iccid')) {
    return conflict('ICCID_DUPLICATE', 'This SIM is already in use', { field: 'input.iccid' });
  }
  return null;
}

/** Flushes a placed order; a second open order for the line (a race past the checks) is ORDER_ALREADY_OPEN. */
export async function flushOrder(em: Em): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    throw lineUniqueConflict(error) ?? error;
  }
}
