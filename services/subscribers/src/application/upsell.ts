import { LockMode } from '@mikro-orm/core';
import { conflict, deterministicId, money, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { addOnEndsAt, inForceAt, offerFitsPlan } from '../domain/add-ons';
import { offerEnd, offerExpiresAt } from '../domain/upsell-offer';
import { assertMaxLength } from '../domain/validation';
import { BillingAccount, Line, ProductOrder, UpsellOffer } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import type { CatalogClient } from '../ports/catalog-client';
import { addAddOn, type AddOnEntry } from './add-add-on';
import type { LineOrderResult } from './add-line';
import { emitUpsellOfferState } from './events';
import { lockLine } from './line-lock';
import { tellUpsell } from './upsell-messages';
import { planEndedReason, planEndedSince, withdrawalReason } from './upsell-withdrawal';
import { plansAt } from './plans';

export { upsellMessageParams } from './upsell-messages';

/**
 * The offer id for a line, period and add-on: the same trigger always means the same offer. The
 * period is its start instant (ISO, as usage emits an offer once per period start) when the trigger
 * gives it, else its name (triggers of workflows started before the start was passed on).
 */
export function upsellOfferId(lineId: string, period: string, offerCode: string): string {
  return deterministicId('upsellOffer', lineId, period, offerCode);
}

export interface PresentOfferCommand {
  lineId: string;
  offerCode: string;
  /** Usage's name of the allowance period (stored and shown). */
  period: string;
  /** The period's start and end, from usage's trigger (optional: workflows started before did not pass them). */
  periodStart?: Date | null;
  periodEnd?: Date | null;
  rule: string;
  /** How long the customer has to accept (hours). */
  validForHours: number;
  now: Date;
}

/**
 * Offers the add-on to the line and tells the customer, once per (line, period, add-on). When it
 * cannot be offered, the offer is stored as WITHDRAWN with the reason, so the trigger is
 * answered and auditable rather than dropped; so is one whose allowance period ended before it
 * could be presented (the workflow retried through an outage): an add-on bought now would not
 * serve the period whose usage called for it. For the same reason an offer made keeps the period's
 * end and is open until its deadline or that end, whichever comes first (`expiresAt`, which the
 * workflow sleeps to and the customer's messages name).
 */
export async function presentUpsellOffer(em: Em, catalog: CatalogClient, c: PresentOfferCommand): Promise<UpsellOffer> {
  // upsell_offer.period is varchar(40), rule varchar(120).
  assertMaxLength(c.period, 40, 'input.period', 'PERIOD_TOO_LONG');
  assertMaxLength(c.rule, 120, 'input.rule', 'RULE_TOO_LONG');
  const id = upsellOfferId(c.lineId, c.periodStart ? c.periodStart.toISOString() : c.period, c.offerCode);
  const existing = (await em.findOne(UpsellOffer, { id })) ?? (c.periodStart ? await presentedUnderName(em, c, c.periodStart) : null);
  if (existing) return existing;
  const line = await em.findOne(Line, { id: c.lineId });
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  const offer = await catalog.offer(c.offerCode);
  if (!offer) throw notFound('Offer', c.offerCode, 'input.offerCode');
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  // The plans as they stand now (`plansAt`, as addAddOn checks them): a change due since the
  // boundary is the plan in force before the sweep has started it.
  const { current: sub, scheduled } = await plansAt(em, line.id, c.now);
  const activeAddOn = sub && (JSON.parse(sub.addOns) as AddOnEntry[]).some((a) => a.code === offer.code && (!a.endsAt || new Date(a.endsAt) > c.now));
  // The line's plan ended after the period began (a plan change in force; the trigger waited through
  // an outage): the period ended with it, whatever end the trigger announced.
  const planEnded = c.periodStart ? await planEndedSince(em, line.id, c.periodStart, c.now) : null;
  // As addAddOn refuses it: a plan change waiting to start whose plan cannot hold the add-on, still valid then.
  const cutByChange = scheduled && addOnEndsAt(c.now, offer.validityDays) > scheduled.startsAt && !offerFitsPlan(offer.compatiblePlans, scheduled.planCode);
  const why =
    c.periodEnd && c.periodEnd <= c.now
      ? `its allowance period ${c.period} ended at ${c.periodEnd.toISOString()}`
      : offer.status === 'RETIRED'
        ? `${offer.code} is no longer sold`
        : line.status !== 'ACTIVE'
          ? `line is ${line.status}`
          : planEnded
            ? planEndedReason(c.period, planEnded, planEnded.endsAt!)
            : !sub || sub.status !== 'ACTIVE'
            ? 'line has no active plan'
            : offer.currency !== account.currency
              ? `${offer.code} is priced in ${offer.currency}, but the account bills in ${account.currency}`
              : offer.compatiblePlans.length && !offer.compatiblePlans.includes(sub.planCode)
                ? `${offer.code} is not sold with ${sub.planCode}`
                : cutByChange
                  ? `${offer.code} cannot be held on ${scheduled.planCode}, which the line changes to on ${scheduled.startsAt.toISOString()}`
                  : activeAddOn
                    ? `${offer.code} is already active`
                    : null;
  const reason = why === null ? null : withdrawalReason(why);
  const expiresAt = offerExpiresAt(c.now, c.validForHours, c.periodEnd);
  const row = em.create(UpsellOffer, {
    id,
    lineId: line.id,
    billingAccountId: line.billingAccountId,
    offerCode: offer.code,
    offerName: offer.name,
    price: offer.price,
    currency: offer.currency,
    period: c.period,
    rule: c.rule,
    state: reason ? 'WITHDRAWN' : 'PRESENTED',
    reason,
    expiresAt,
    periodEnd: c.periodEnd ?? null,
    orderId: null,
    remindedAt: null,
    respondedAt: null,
    createdAt: c.now,
  });
  emitUpsellOfferState(em, row, c.now);
  await em.flush();
  if (!reason) await tellUpsell(em, row, 'UPSELL_OFFER', c.now);
  return row;
}

/**
 * The offer of this trigger presented before the period's start was passed on: stored under the
 * period's name, made in this period (at or after its start). The same event delivered again to a
 * worker that now passes the start finds it rather than offering twice; an offer of that name made
 * before this period began is an earlier period's (one that shared the name), not this one.
 */
async function presentedUnderName(em: Em, c: PresentOfferCommand, periodStart: Date): Promise<UpsellOffer | null> {
  const legacy = await em.findOne(UpsellOffer, { id: upsellOfferId(c.lineId, c.period, c.offerCode) });
  return legacy && legacy.createdAt >= periodStart ? legacy : null;
}

/**
 * The offer row, locked (PostgreSQL `for update`, read fresh from the database) until the
 * transaction ends: answers, reminders and closing of one offer are taken one at a time, each
 * seeing the state the previous one left. SQLite runs one writer at a time and needs no lock.
 */
async function loadOffer(em: Em, offerId: string): Promise<UpsellOffer> {
  const postgres = onPostgres(em);
  const offer = await em.findOne(UpsellOffer, { id: offerId }, postgres ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
  if (!offer) throw notFound('UpsellOffer', offerId, 'input.offerId');
  return offer;
}

/**
 * The customer's answer, given once: accept XOR decline. The offer row is locked first, so of two
 * answers sent at the same time one wins and the other sees the offer answered. The same answer
 * repeated returns the first one's result (for an accept, the order it placed); any other answer
 * to an offer no longer open (answered otherwise, withdrawn, expired, or its allowance period
 * over, also because the line's plan it was made under has ended since: the add-on would not serve
 * the period it was offered for) is a CONFLICT (OFFER_NOT_OPEN) saying why. Accepting orders the
 * add-on on the terms offered (the offer's stored price and currency), not the catalog's price of
 * the day.
 */
export async function respondToUpsellOffer(em: Em, catalog: CatalogClient, c: { offerId: string; accept: boolean; now: Date }): Promise<{ offer: UpsellOffer; placed: LineOrderResult | null }> {
  // The line first, then the offer (as a plan change or termination withdrawing the line's offers
  // takes them): the answer and the end of the plan the offer was made under go one at a time.
  const seen = await em.findOne(UpsellOffer, { id: c.offerId });
  if (!seen) throw notFound('UpsellOffer', c.offerId, 'input.offerId');
  await lockLine(em, seen.lineId);
  const offer = await loadOffer(em, c.offerId);
  const idempotencyKey = `upsell:${offer.id}`;
  const command = { lineId: offer.lineId, offerCode: offer.offerCode, idempotencyKey, now: c.now };
  if (offer.state === 'ACCEPTED' && c.accept) {
    const order = offer.orderId ? await em.findOne(ProductOrder, { id: offer.orderId }) : null;
    if (order) return { offer, placed: { order, line: await em.findOneOrFail(Line, { id: order.lineId }) } };
    return { offer, placed: await addAddOn(em, catalog, command, { price: money(offer.price, offer.currency) }) };
  }
  if (offer.state === 'DECLINED' && !c.accept) return { offer, placed: null };
  // FAILED: accepted, but the add-on order failed (balance too low, network refusal): still open
  // to an answer until it expires; accepting again places a new order (its own key).
  if (offer.state !== 'PRESENTED' && offer.state !== 'FAILED') {
    const why = offer.state === 'WITHDRAWN' && offer.reason ? `: ${offer.reason}` : '';
    throw conflict('OFFER_NOT_OPEN', `Offer ${offer.id} is ${offer.state}${why}`, { field: 'input.offerId', state: offer.state });
  }
  const end = offerEnd(offer);
  if (end.at <= c.now) {
    if (end.withPeriod) throw conflict('OFFER_NOT_OPEN', `Offer ${offer.id} was for the allowance period ${offer.period}, which ended at ${end.at.toISOString()}`, { field: 'input.offerId', periodEnd: end.at.toISOString() });
    throw conflict('OFFER_NOT_OPEN', `Offer ${offer.id} expired at ${offer.expiresAt.toISOString()}`, { field: 'input.offerId' });
  }
  // The line's plan it was made under has ended since (a change due, the sweep not run yet; the
  // transaction ending a plan withdraws the offers otherwise): its allowance period ended with it.
  const planEnded = await planEndedSince(em, offer.lineId, offer.createdAt, c.now);
  if (planEnded) {
    const at = planEnded.endsAt!.toISOString();
    throw conflict('OFFER_NOT_OPEN', `Offer ${offer.id} was for the allowance period ${offer.period}, which ended at ${at} with plan ${planEnded.planCode}`, { field: 'input.offerId', planEndedAt: at });
  }
  let placed: LineOrderResult | null = null;
  if (c.accept) {
    const key = offer.state === 'FAILED' && offer.orderId ? `${idempotencyKey}:after:${offer.orderId}` : idempotencyKey;
    placed = await addAddOn(em, catalog, { ...command, idempotencyKey: key }, { price: money(offer.price, offer.currency) });
    offer.orderId = placed.order.id;
    offer.reason = null;
  }
  offer.state = c.accept ? 'ACCEPTED' : 'DECLINED';
  offer.respondedAt = c.now;
  emitUpsellOfferState(em, offer, c.now);
  await em.flush();
  return { offer, placed };
}

/**
 * A reminder while the offer is still open; nothing once it was answered or reminded (FAILED
 * included) or has ended (its deadline or its allowance period's end passed: closing expires it).
 * An offer whose line's plan has ended since it was presented (a change due, not swept yet) is
 * WITHDRAWN: its allowance period ended with the plan.
 * An offer accepting would now refuse (the line no longer ACTIVE, the add-on retired since, the
 * plan gone or changed to one that cannot hold it, a plan change scheduled since onto such a plan
 * while the add-on would still be valid, the add-on bought since) is WITHDRAWN with the reason
 * instead: no "last chance" for something the customer cannot buy.
 */
export async function remindUpsellOffer(em: Em, catalog: CatalogClient, c: { offerId: string; now: Date }): Promise<UpsellOffer> {
  const offer = await loadOffer(em, c.offerId);
  if (offer.state !== 'PRESENTED' || offer.remindedAt || offerEnd(offer).at <= c.now) return offer;
  const line = await em.findOneOrFail(Line, { id: offer.lineId });
  const planEnded = line.status === 'ACTIVE' ? await planEndedSince(em, line.id, offer.createdAt, c.now) : null;
  const reason =
    line.status !== 'ACTIVE'
      ? `line is ${line.status}`
      : planEnded
        ? planEndedReason(offer.period, planEnded, planEnded.endsAt!)
        : await notSellableNow(em, catalog, offer, line, c.now);
  if (reason) {
    offer.state = 'WITHDRAWN';
    offer.reason = withdrawalReason(reason);
    emitUpsellOfferState(em, offer, c.now);
    await em.flush();
    return offer;
  }
  offer.remindedAt = c.now;
  await em.flush();
  await tellUpsell(em, offer, 'UPSELL_REMINDER', c.now);
  return offer;
}

/**
 * Why accepting the offer on an ACTIVE line would now be refused (as `addAddOn` refuses it), in
 * presenting's words, or null: the add-on retired since, the line's plan gone or changed to one
 * that cannot hold it, a plan change scheduled onto such a plan before the add-on would end (as
 * `addAddOn`'s `offerHoldable` refuses it, OFFER_NOT_COMPATIBLE with scheduledPlanCode), or the
 * add-on bought since (directly, not through the offer: one at a time).
 */
async function notSellableNow(em: Em, catalog: CatalogClient, offer: UpsellOffer, line: Line, now: Date): Promise<string | null> {
  const sold = await catalog.offer(offer.offerCode);
  if (sold?.status === 'RETIRED') return `${offer.offerCode} is no longer sold`;
  // As they stand now (`plansAt`): a change due since the boundary is the plan in force.
  const { current: sub, scheduled } = await plansAt(em, line.id, now);
  if (!sub || sub.status !== 'ACTIVE') return 'line has no active plan';
  if (sold && !offerFitsPlan(sold.compatiblePlans, sub.planCode)) return `${offer.offerCode} is not sold with ${sub.planCode}`;
  // A plan change scheduled since, onto a plan that cannot hold the add-on while it would still be valid then.
  if (sold && scheduled && addOnEndsAt(now, sold.validityDays) > scheduled.startsAt && !offerFitsPlan(sold.compatiblePlans, scheduled.planCode)) {
    return `${offer.offerCode} cannot be held on ${scheduled.planCode}, which the line changes to on ${scheduled.startsAt.toISOString()}`;
  }
  if ((JSON.parse(sub.addOns) as AddOnEntry[]).some((a) => a.code === offer.offerCode && inForceAt(a, now))) return `${offer.offerCode} is already active`;
  return null;
}

/**
 * Closes an offer nobody answered once it has expired (its deadline or its allowance period's end,
 * whichever came first). An answered offer, or one still open (the caller's timer ran ahead of our
 * clock), is returned as it is: the caller looks at the state.
 */
export async function closeUpsellOffer(em: Em, c: { offerId: string; now: Date }): Promise<UpsellOffer> {
  const offer = await loadOffer(em, c.offerId);
  if (offer.state !== 'PRESENTED' || offerEnd(offer).at > c.now) return offer;
  offer.state = 'EXPIRED';
  emitUpsellOfferState(em, offer, c.now);
  await em.flush();
  return offer;
}
