import type { Em } from '@ledgerline/platform';
import { carryAddOns, type AddOnEntry } from '../domain/add-ons';
import { BillingAccount, Subscription, type Line, type OneOffCharge } from '../persistence/entities';
import { emitOneOffCharge, emitSubscription } from './events';
import { lockLine } from './line-lock';
import { scheduledChangeFees } from './plan-fees';
import { planEndedReason, withdrawOpenOffers } from './upsell-withdrawal';

/**
 * Moves end-of-cycle plan changes on when their time comes: ACTIVE subscriptions whose end has
 * passed become ENDED, SCHEDULED ones whose start has passed become ACTIVE, and the change's
 * PLAN_CHANGE fees are charged as the new plan starts. Idempotent; run by a background timer (and
 * by tests with a moved clock). Each line is locked (in id order, so two sweeps cannot deadlock)
 * and read again under the lock: a TERMINATE completing meanwhile ends a scheduled plan before it
 * starts, and that plan must then neither start nor be charged.
 */
export async function activateDueSubscriptions(em: Em, now: Date, limit = 500): Promise<number> {
  const ending = await em.find(Subscription, { status: 'ACTIVE', endsAt: { $lte: now } }, { limit, orderBy: { endsAt: 'asc' } });
  const starting = await em.find(Subscription, { status: 'SCHEDULED', startsAt: { $lte: now } }, { limit, orderBy: { startsAt: 'asc' } });
  const lineIds = [...new Set([...ending, ...starting].map((s) => s.lineId))].sort();
  let moved = 0;
  for (const lineId of lineIds) {
    const line = await lockLine(em, lineId);
    if (line) moved += await applyDueSubscriptions(em, line, now);
  }
  await em.flush();
  return moved;
}

/**
 * Brings one line's subscriptions up to `now` (the caller holds the line's lock): the ACTIVE ones
 * that have ended become ENDED, the SCHEDULED ones that have started become ACTIVE (the line's
 * plan with them), holding every add-on of the plan they follow still valid as they start, and
 * charge their change's PLAN_CHANGE fees. Returns how many moved.
 *
 * Run by the sweep and, first, by every request that decides on the line's plan under its lock
 * (changePlan, addAddOn, endAddOn, the line orders, replaceSim, subscribe, completeOrder): a change
 * due at the boundary is then in force for them, not only after the next sweep. The same events
 * either way (ids keyed by subscription, status and `due`; startsAt/endsAt the boundary, whoever
 * starts it and when), so a later sweep finds nothing left to do.
 */
export async function applyDueSubscriptions(em: Em, line: Line, now: Date): Promise<number> {
  const ending = await em.find(Subscription, { lineId: line.id, status: 'ACTIVE', endsAt: { $lte: now } }, { orderBy: { endsAt: 'asc' }, refresh: true });
  const starting = await em.find(Subscription, { lineId: line.id, status: 'SCHEDULED', startsAt: { $lte: now } }, { orderBy: { startsAt: 'asc' }, refresh: true });
  if (ending.length + starting.length === 0) return 0;
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  for (const sub of ending) {
    sub.status = 'ENDED';
    emitSubscription(em, 'subscriptionChanged', sub, line, account, 'due', now);
    // The upsell offers presented under it were for an allowance period that ended with it (one
    // presented since the boundary is the new plan's, and stays).
    const endedAt = sub.endsAt!;
    await withdrawOpenOffers(em, line.id, { presentedBefore: endedAt, now, reason: (offer) => planEndedReason(offer.period, sub, endedAt) });
  }
  const charges: OneOffCharge[] = [];
  for (const sub of starting) {
    await carryAddOnsFromPlanLeft(em, sub);
    sub.status = 'ACTIVE';
    line.planCode = sub.planCode;
    line.updatedAt = now;
    emitSubscription(em, 'subscriptionChanged', sub, line, account, 'due', now);
    charges.push(...(await scheduledChangeFees(em, sub, line, account)));
  }
  // The charge rows first: a concurrent start of the same plan (which the line lock rules out on
  // PostgreSQL) would fail on their primary keys here rather than send a second event.
  await em.flush();
  for (const charge of charges) emitOneOffCharge(em, charge);
  return ending.length + starting.length;
}

/**
 * The add-ons still valid as `next` starts, carried from the subscription it follows (the one the
 * change ended at that instant) with their dates: those bought before the change was scheduled were
 * copied when it was, those bought while it waited since 2026-11-28 at their purchase, and this
 * takes any a subscription scheduled before then missed (bought while it waited). One started
 * before `next` (not a scheduled one ended unstarted, whose end is its own start). Their plan can
 * hold them (the plan change and the purchase refuse otherwise; one sold before those checks is
 * carried as sold). Run once per start (the line is locked, `next` still SCHEDULED); a purchase
 * already held is not added again.
 */
async function carryAddOnsFromPlanLeft(em: Em, next: Subscription): Promise<void> {
  const left = await em.findOne(Subscription, { lineId: next.lineId, id: { $ne: next.id }, status: { $in: ['ACTIVE', 'ENDED'] }, startsAt: { $lt: next.startsAt }, endsAt: next.startsAt }, { orderBy: { startsAt: 'desc' } });
  if (!left) return;
  const held = JSON.parse(next.addOns) as AddOnEntry[];
  const carried = carryAddOns(held, JSON.parse(left.addOns) as AddOnEntry[], next.startsAt);
  if (carried.length > held.length) next.addOns = JSON.stringify(carried);
}
