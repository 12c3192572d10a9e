import { LockMode } from '@mikro-orm/core';
import type { Em } from '@ledgerline/platform';
import { Subscription, UpsellOffer } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import { emitUpsellOfferState } from './events';

/**
 * An upsell offer is for the allowance period its trigger named, which began under the line's
 * subscription then. When that subscription ends (a plan change in force, the line terminated),
 * usage and wallets restart the line's periods with the next one (a fresh bundle from its start),
 * so the period the offer was for is over, whatever end usage announced with the trigger.
 */

/**
 * A withdrawal reason as stored: upsell_offer.reason is varchar(200), and a reason naming codes (an
 * add-on's and a plan's, up to 64 characters each) can be longer; the whole text would fail the write
 * and with it the presenting or reminding step.
 */
export function withdrawalReason(reason: string): string {
  return reason.slice(0, 200);
}

/** Why an offer of `period` is over because `plan` ended at `at`. */
export function planEndedReason(period: string, plan: { planCode: string }, at: Date): string {
  return withdrawalReason(`its allowance period ${period} ended at ${at.toISOString()}, when plan ${plan.planCode} ended`);
}

/**
 * The line's subscription that was in force at `since` and has ended by `now` (the earliest such
 * end): an ACTIVE one whose end has passed counts (a change due, the sweep not run yet). Null when
 * the plan of `since` is still the line's. A subscription that never started (ended at its start)
 * is left out: no period began under it.
 */
export async function planEndedSince(em: Em, lineId: string, since: Date, now: Date): Promise<Subscription | null> {
  const ended = await em.find(Subscription, { lineId, startsAt: { $lte: since }, endsAt: { $gt: since, $lte: now } }, { orderBy: { endsAt: 'asc' } });
  return ended.find((s) => s.endsAt! > s.startsAt) ?? null;
}

/**
 * Withdraws the line's open offers (PRESENTED, or FAILED and still answerable) not yet ended, those
 * presented before `presentedBefore` when given (else all), with `reason(offer)`, and announces each (upsellOfferStateChanged).
 * The customer is not told, as for every other withdrawal: the change that ended the plan was theirs
 * (or an agent's, with its own notice), and the new period's usage triggers a new offer if it calls
 * for one. Called in the transaction that ends the subscription, under the line's lock: the offers
 * are locked after the line (`respondToUpsellOffer` takes the line first too).
 */
export async function withdrawOpenOffers(
  em: Em,
  lineId: string,
  c: { presentedBefore?: Date; now: Date; reason: (offer: UpsellOffer) => string },
): Promise<number> {
  const lock = onPostgres(em) ? { lockMode: LockMode.PESSIMISTIC_WRITE as const } : {};
  const open = await em.find(
    UpsellOffer,
    { lineId, state: { $in: ['PRESENTED', 'FAILED'] }, ...(c.presentedBefore ? { createdAt: { $lt: c.presentedBefore } } : {}), expiresAt: { $gt: c.now } },
    { ...lock, refresh: true, orderBy: { id: 'asc' } },
  );
  for (const offer of open) {
    offer.state = 'WITHDRAWN';
    offer.reason = c.reason(offer);
    emitUpsellOfferState(em, offer, c.now);
  }
  return open.length;
}
