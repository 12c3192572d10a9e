import { createHash } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import { conflict, dec, decimalToString, DomainError, notFound, oneOffDescription, type Money } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { transitionLine, type LineStatus } from '../domain/lifecycle';
import { billingPeriodOf, localDateOf, startOfLocalDay } from '../domain/calendar';
import { isFinal, LINE_ACTION_OF, moveOrder, type OrderKind, type OrderStatus } from '../domain/order';
import { carryAddOns, offerFitsPlan, type AddOnEntry } from '../domain/add-ons';
import type { FeeTrigger, PlanFee } from '../domain/plan-terms';
import type { OneOffItem } from '../domain/proration';
import { BillingAccount, CollectionsHold, Line, OneOffCharge, ProductOrder, Subscription, UpsellOffer } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import type { ProvisioningRequest } from '../ports/provisioning';
import type { WalletsPort } from '../ports/wallets-client';
import type { CatalogClient } from '../ports/catalog-client';
import { emitLineState, emitOneOffCharge, emitOrderState, emitSubscription, emitUpsellOfferState } from './events';
import { tellUpsell } from './upsell-messages';
import { addOnChargeTaken, revokeAddOnGrants, settleAddOn, type OrderEffects } from './add-on-settlement';
import { flushOrder, lockLine } from './line-orders';
import { planEndedReason, withdrawOpenOffers } from './upsell-withdrawal';
import { holdActivatedLine } from './collections-holds';
import { applyDueSubscriptions } from './activate-due-subscriptions';
import { feesInForce, planChangeFeesDue, planChangeSubscriptionId, planChangeWording, planFeeCharges, type PlanFeesRequest } from './plan-fees';
import { assertSimFree, type SimReplacementRequest } from './replace-sim';

/**
 * Loads the order for a step, row-locked on PostgreSQL: a retried step that overlaps an earlier,
 * still running attempt (activity timeout, re-dispatch) waits for it and then sees its outcome
 * instead of applying the effect twice.
 */
export async function loadOrder(em: Em, orderId: string, lock = true): Promise<ProductOrder> {
  const postgres = onPostgres(em);
  const order = await em.findOne(ProductOrder, { id: orderId }, lock && postgres ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  if (!order) throw notFound('Order', orderId, 'input.orderId');
  return order;
}

/**
 * ACKNOWLEDGED → IN_PROGRESS. Idempotent: an order already in progress (a retried step) is returned
 * as is, and so is one already COMPLETED or FAILED (a retried start after the saga finished): the
 * caller sees the outcome and ends there.
 */
export async function startOrder(em: Em, orderId: string, now: Date): Promise<ProductOrder> {
  const order = await loadOrder(em, orderId);
  if (order.status === 'IN_PROGRESS' || isFinal(order.status as OrderStatus)) return order;
  order.status = moveOrder(order.status as OrderStatus, 'IN_PROGRESS');
  order.updatedAt = now;
  emitOrderState(em, order, now);
  await em.flush();
  return order;
}

/** What the provisioning adapter is asked to do for this order. */
export async function provisioningRequest(em: Em, orderId: string): Promise<ProvisioningRequest> {
  const order = await loadOrder(em, orderId, false);
  const line = await em.findOneOrFail(Line, { id: order.lineId });
  const request = JSON.parse(order.request) as { planCode?: string | null; toPlanCode?: string; offerCode?: string } & Partial<SimReplacementRequest>;
  // A SIM replacement names the new SIM (and the one it replaces) as the order was placed: the
  // line takes the new one only when the order completes.
  const sim = order.kind === 'SIM_REPLACEMENT' ? { iccid: request.iccid ?? null, previousIccid: request.previousIccid ?? null } : { iccid: line.iccid ?? null };
  return {
    orderId: order.id,
    kind: order.kind as OrderKind,
    lineId: line.id,
    msisdn: line.msisdn,
    ...sim,
    imsi: line.imsi ?? null,
    planCode: request.toPlanCode ?? request.planCode ?? request.offerCode ?? null,
    idempotencyKey: `order:${order.id}`,
  };
}

function chargeId(orderId: string, n: number): string {
  return `chg_${createHash('sha256').update(`${orderId}\u001f${n}`).digest('hex').slice(0, 32)}`;
}

export { feeChargeId } from './plan-fees';

/** The id an ADD_ON's price is charged under (wallets' key for it, and the one-off charge's id). */
export const addOnChargeId = (orderId: string): string => chargeId(orderId, 0);

/** The id of the CREDIT that gives a FAILED ADD_ON's charge back: one per order. */
export const addOnRefundId = (orderId: string): string => `chg_${createHash('sha256').update(`${orderId}\u001frefund`).digest('hex').slice(0, 32)}`;

/** What an ADD_ON order asks for, fixed when it was placed. */
export interface AddOnRequest {
  subscriptionId: string;
  offerCode: string;
  price: Money;
  validityDays: number;
  /** The plans the offer was sold with when the order was placed ([]: any); absent on orders placed before 2026-12. */
  compatiblePlans?: string[];
}

/**
 * Before an ADD_ON's completion first talks to wallets (both the inline saga and the
 * `completeOrder` mutation the Temporal workflow retries): fixes the instant the add-on starts
 * (`sagaChargeAt`), committed on its own by the caller, before the completion's transaction. It
 * dates a prepaid account's charge and every account's bucket grants, so every retry of the
 * completion (after an outage, a lost answer, a timed-out attempt, a crash) sends wallets the same
 * requests: wallets keys a charge by its id and a grant by its key, each with its data, and refuses
 * the key again with another instant (CHARGE_ID_CONFLICT, IDEMPOTENCY_KEY_REUSED). A postpaid order
 * whose first grant went through before an outage could otherwise never complete (2026-11: failed
 * with that bucket granted and nothing billed). For a prepaid account a FAILED order with it also
 * knows the charge may have reached wallets although the completion rolled back
 * (`addOnChargeToRefund`; a postpaid one pays nothing there). `order` is row-locked by the caller.
 * Only an open ADD_ON with wallets configured; an instant fixed already stays.
 */
export async function fixAddOnSettlementInstant(em: Em, order: ProductOrder, now: Date, wallets: WalletsPort | null | undefined): Promise<void> {
  if (order.kind !== 'ADD_ON' || order.status !== 'IN_PROGRESS' || order.sagaChargeAt || !wallets) return;
  order.sagaChargeAt = now;
  await em.flush();
}

/**
 * Settles in wallets what a FAILED ADD_ON may have left there, and answers whether its charge is to
 * be refunded (`refundAddOn`): asked only for an order whose instant was fixed (its charge and
 * grants may have been sent) and not refunded yet. First the grants its completion may have made
 * are revoked (`revokeAddOnGrants`, prepaid and postpaid: no free allowance is left of an order that
 * failed), then a prepaid account's charge id is closed (`addOnChargeTaken`: true only when wallets
 * had taken it; one that never reached wallets is refused from then on, and nothing moves). Any
 * other order: false, wallets not asked (one not FAILED could still complete and deliver the
 * add-on; a refunded one was settled before its refund was written). Throws while wallets or the
 * catalog cannot be reached (the caller retries later; every step is idempotent).
 */
export async function addOnChargeToRefund(em: Em, effects: { wallets: WalletsPort; catalog: CatalogClient }, orderId: string): Promise<boolean> {
  const order = await loadOrder(em, orderId, false);
  if (order.kind !== 'ADD_ON' || order.status !== 'FAILED' || !order.sagaChargeAt) return false;
  if (await em.findOne(OneOffCharge, { id: addOnRefundId(order.id) })) return false;
  const account = await em.findOneOrFail(BillingAccount, { id: order.billingAccountId });
  const { offerCode } = JSON.parse(order.request) as AddOnRequest;
  await revokeAddOnGrants(effects, { orderId: order.id, billingAccountId: account.id, offerCode });
  return addOnChargeTaken(effects.wallets, { chargeId: addOnChargeId(order.id), account });
}

/**
 * Gives back the price of a FAILED ADD_ON order that wallets took (`addOnChargeToRefund`): a CREDIT
 * one-off and its `oneOffChargeCreated`, which wallets credits to the balance under the refund's
 * id. Made once per order (the row's id is fixed; an existing one is left as it is).
 */
export async function refundAddOn(em: Em, order: ProductOrder, now: Date): Promise<void> {
  const id = addOnRefundId(order.id);
  if (await em.findOne(OneOffCharge, { id })) return;
  const r = JSON.parse(order.request) as AddOnRequest;
  const line = await em.findOne(Line, { id: order.lineId });
  const credit = em.create(OneOffCharge, {
    id,
    billingAccountId: order.billingAccountId,
    lineId: order.lineId,
    subscriptionId: r.subscriptionId,
    orderId: order.id,
    kind: 'CREDIT',
    reason: 'ADD_ON_PURCHASE',
    amount: decimalToString(dec(r.price.amount).negated()),
    currency: r.price.currency,
    description: oneOffDescription(`Refund: ${r.offerCode} for ${line?.msisdn ?? order.lineId} (order ${order.id} failed)`),
    periodStart: null,
    periodEnd: null,
    chargedAt: now,
  });
  emitOneOffCharge(em, credit);
  await em.flush();
}

/**
 * IN_PROGRESS → COMPLETED, applying the order's effect in the same transaction: the line's new
 * status, subscriptions, one-off charges, and their events. Idempotent for a completed order.
 * Throws (and changes nothing) if the effect is no longer legal; the saga then compensates.
 */
export async function completeOrder(em: Em, orderId: string, now: Date, effects?: OrderEffects): Promise<ProductOrder> {
  const order = await loadOrder(em, orderId);
  if (order.status === 'COMPLETED') return order;
  order.status = moveOrder(order.status as OrderStatus, 'COMPLETED');
  // The line is locked too, so placing an order for it (which locks the line) waits for this
  // effect and checks the line as this order leaves it. Always the order row first, then the line.
  const line = await lockLine(em, order.lineId);
  if (!line) throw notFound('Line', order.lineId, 'input.lineId');
  // A plan change due since the boundary is started first (the sweep's own step, under the line's
  // lock): the order's effect lands on the plan in force now, whether or not a sweep ran meanwhile.
  await applyDueSubscriptions(em, line, now);
  const account = await em.findOneOrFail(BillingAccount, { id: order.billingAccountId });
  const kind = order.kind as OrderKind;
  const action = LINE_ACTION_OF[kind];
  const charges: OneOffCharge[] = [];
  const sim = kind === 'SIM_REPLACEMENT' ? (JSON.parse(order.request) as SimReplacementRequest) : null;
  if (sim) {
    // Another line may have been given the SIM since the order was placed (addLine): refused, so
    // the order fails and the network is moved back.
    await assertSimFree(em, sim.iccid, line, false);
    line.iccid = sim.iccid;
  }
  if (action) {
    line.status = transitionLine(line.status as LineStatus, action, 'input.lineId');
    line.updatedAt = now;
    if (line.status === 'TERMINATED') line.terminatedAt = now;
    emitLineState(em, line, order.id, now);
  }
  if (kind === 'NEW_LINE') {
    // `fees`: every ACTIVATION fee of the plan. An order placed before them carries `activationFee`
    // (the plan's first activation fee only), charged as it was then.
    const request = JSON.parse(order.request) as { subscriptionId: string | null; fees?: PlanFee[]; activationFee?: Money | null };
    // Every plan waiting for the line starts with it: the one ordered with the line and one
    // subscribed while the line was still PENDING (the order fulfilled later, as with Temporal).
    const pending = await em.find(Subscription, { lineId: line.id, status: 'PENDING' }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    for (const waiting of pending) {
      waiting.status = 'ACTIVE';
      waiting.startsAt = now;
      emitSubscription(em, 'subscriptionChanged', waiting, line, account, order.id, now);
    }
    if (request.fees) {
      charges.push(...planFeeCharges(em, { orderId: order.id, line, account, subscriptionId: request.subscriptionId, fees: request.fees, trigger: 'ACTIVATION', now }));
    } else if (request.activationFee && request.activationFee.amount.replace(/[0.]/g, '') !== '') {
      charges.push(
        em.create(OneOffCharge, {
          id: chargeId(order.id, 0),
          billingAccountId: account.id,
          lineId: line.id,
          subscriptionId: request.subscriptionId,
          orderId: order.id,
          kind: 'CHARGE',
          reason: 'ACTIVATION_FEE',
          amount: request.activationFee.amount,
          currency: request.activationFee.currency,
          description: `Activation of ${line.msisdn}`,
          periodStart: null,
          periodEnd: null,
          chargedAt: now,
        }),
      );
    }
  }
  if (kind === 'TERMINATE') {
    // The TERMINATION fees of the plan the line is on now (none for a line that never went live).
    const fees = await feesOfPlanInForce(em, line, JSON.parse(order.request) as PlanFeesRequest, 'TERMINATION', now);
    charges.push(...planFeeCharges(em, { orderId: order.id, line, account, ...fees, trigger: 'TERMINATION', now }));
    // A plan scheduled to start later never starts: ended where it would have begun, so its change
    // fee (charged only when a plan starts) is never charged. A PENDING plan (a line cancelled
    // before it went live) was never in force either: ended at its start, so no consumer takes
    // [order, cancellation) as days held (invoicing billed a postpaid line's fee for them).
    const live = await em.find(Subscription, { lineId: line.id, status: { $in: ['PENDING', 'ACTIVE', 'SCHEDULED'] } });
    for (const sub of live) {
      const neverStarted = sub.status === 'PENDING' || sub.startsAt > now;
      sub.status = 'ENDED';
      sub.endsAt = neverStarted ? sub.startsAt : now;
      emitSubscription(em, 'subscriptionChanged', sub, line, account, order.id, now);
    }
    // Open upsell offers of the line can no longer be taken (accepting refuses a line not ACTIVE).
    await withdrawOpenOffers(em, line.id, { now, reason: () => `line is ${line.status}` });
  }
  if (sim) {
    // The SIM_REPLACEMENT fees of the plan the line is on now, charged once the SIM is in.
    const fees = await feesOfPlanInForce(em, line, sim, 'SIM_REPLACEMENT', now);
    charges.push(...planFeeCharges(em, { orderId: order.id, line, account, ...fees, trigger: 'SIM_REPLACEMENT', now }));
  }
  if (kind === 'ADD_ON') {
    const r = JSON.parse(order.request) as AddOnRequest;
    const sub = await addOnSubscription(em, r.subscriptionId);
    // Dated as fixed before wallets was first asked (`fixAddOnSettlementInstant`: each retry sends it
    // the same charge and grants); now without wallets.
    const startsAt = order.sagaChargeAt ?? now;
    const endsAt = new Date(startsAt.getTime() + r.validityDays * 86_400_000);
    // Checked again with the dates it completes with, before wallets is asked: the plan it lands on
    // and a change still waiting to start must hold it (`addOnHoldableAtCompletion`).
    const scheduled = await em.findOne(Subscription, { lineId: line.id, status: 'SCHEDULED' });
    addOnHoldableAtCompletion(r, sub, scheduled, endsAt);
    if (effects) await settleAddOn(effects, { orderId: order.id, chargeId: addOnChargeId(order.id), line, account, offerCode: r.offerCode, price: r.price, startsAt, endsAt });
    const entry: AddOnEntry = { code: r.offerCode, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString() };
    sub.addOns = JSON.stringify([...(JSON.parse(sub.addOns) as AddOnEntry[]), entry]);
    emitSubscription(em, 'subscriptionChanged', sub, line, account, order.id, now);
    // A plan change waiting to start (END_OF_CYCLE) holds the add-on too if it is still valid then
    // (its plan can hold it: checked when the order was placed), so the add-on stays on the line when
    // the new plan starts; `applyDueSubscriptions` carries it there as well (orders placed before).
    if (scheduled) {
      const carried = carryAddOns(JSON.parse(scheduled.addOns) as AddOnEntry[], [entry], scheduled.startsAt);
      if (carried.length > (JSON.parse(scheduled.addOns) as AddOnEntry[]).length) {
        scheduled.addOns = JSON.stringify(carried);
        emitSubscription(em, 'subscriptionChanged', scheduled, line, account, order.id, now);
      }
    }
    charges.push(
      em.create(OneOffCharge, {
        id: addOnChargeId(order.id),
        billingAccountId: account.id,
        lineId: line.id,
        subscriptionId: sub.id,
        orderId: order.id,
        kind: 'CHARGE',
        reason: 'ADD_ON_PURCHASE',
        amount: r.price.amount,
        currency: r.price.currency,
        description: `${r.offerCode} for ${line.msisdn}`,
        periodStart: null,
        periodEnd: null,
        chargedAt: now,
      }),
    );
  }
  if (kind === 'PLAN_CHANGE') {
    const r = JSON.parse(order.request) as PlanChangeRequest;
    const next = await applyPlanChange(em, order, line, account, now);
    // The new plan's PLAN_CHANGE fees, when the new plan starts: an IMMEDIATE change now; an
    // END_OF_CYCLE one when its subscription becomes ACTIVE (`applyDueSubscriptions`), and never if
    // the line is terminated first. An order placed before fees has none.
    const fees = planChangeFeesDue(r, 'AT_COMPLETION');
    charges.push(...planFeeCharges(em, { orderId: order.id, line, account, subscriptionId: next.id, fees, trigger: 'PLAN_CHANGE', wording: planChangeWording(r), now }));
  }
  order.updatedAt = now;
  order.completedAt = now;
  emitOrderState(em, order, now);
  await flushOrder(em);
  for (const charge of charges) emitOneOffCharge(em, charge);
  await em.flush();
  // A line going live on an account held for collections is held and barred like the others
  // (its BAR is placed now that this order is COMPLETED: one open order per line).
  if (kind === 'NEW_LINE') await holdActivatedLine(em, line, now);
  return order;
}

/**
 * The `trigger` fees of the plan the line is on as the order completes: its subscriptions are first
 * brought up to `now` (an END_OF_CYCLE change that fell due since the order was placed starts now,
 * if the sweep has not started it yet), then the ACTIVE one's fees, as the order carries them.
 */
async function feesOfPlanInForce(em: Em, line: Line, request: PlanFeesRequest, trigger: FeeTrigger, now: Date): Promise<{ subscriptionId: string | null; fees: PlanFee[] }> {
  await applyDueSubscriptions(em, line, now);
  const current = await em.findOne(Subscription, { lineId: line.id, status: 'ACTIVE' }, { orderBy: { startsAt: 'desc' } });
  return feesInForce(request, current, trigger);
}

/**
 * The subscription an ADD_ON completes on: the one it was placed on while ACTIVE; once an END_OF_CYCLE
 * change has started since (the order placed before the boundary, completed after it), the plan that
 * change started, which holds the add-ons still valid as it starts (the purchase was checked against
 * it when placed, if still valid then). Anything else (the line's plan ended, terminated) refuses
 * the completion, SUBSCRIPTION_NOT_ACTIVE_CONFLICT, and the order fails.
 */
async function addOnSubscription(em: Em, placedOn: string): Promise<Subscription> {
  const sub = await em.findOneOrFail(Subscription, { id: placedOn });
  if (sub.status === 'ACTIVE') return sub;
  // The plan a change started where this one ended (a termination leaves none ACTIVE; no other
  // change can complete while this order is open: one open order per line).
  const next = sub.status === 'ENDED' && sub.endsAt ? await em.findOne(Subscription, { lineId: sub.lineId, status: 'ACTIVE', startsAt: sub.endsAt, id: { $ne: sub.id } }) : null;
  if (next) return next;
  throw new DomainError('SUBSCRIPTION_NOT_ACTIVE_CONFLICT', `Subscription ${sub.id} is ${sub.status}`, { field: 'input.lineId' });
}

/**
 * The add-on may be held as it completes (`endsAt`: from the completion's start, not the placement's):
 * the plan it lands on sells it (an END_OF_CYCLE change may have started between placing and
 * completing, and `addOnSubscription` moved it onto the new plan), and a change still waiting to
 * start sells it too if it would still be valid then (completed later than placed, it may now run
 * past that start, and would be carried onto the new plan). The offer's compatible plans are the
 * ones it was sold with (`AddOnRequest.compatiblePlans`); an order placed before they were kept is
 * not checked again. Refused CONFLICT `OFFER_NOT_COMPATIBLE` (what placing it now would refuse, as a
 * conflict: the line changed under the order), so the order fails before wallets is asked.
 */
function addOnHoldableAtCompletion(r: AddOnRequest, on: Subscription, scheduled: Subscription | null, endsAt: Date): void {
  const plans = r.compatiblePlans;
  if (!plans) return;
  if (!offerFitsPlan(plans, on.planCode)) {
    throw conflict('OFFER_NOT_COMPATIBLE', `Offer ${r.offerCode} cannot be added to plan ${on.planCode}, which the line changed to on ${on.startsAt.toISOString()} after the order was placed`, { field: 'input.offerCode', planCode: on.planCode });
  }
  if (scheduled && endsAt > scheduled.startsAt && !offerFitsPlan(plans, scheduled.planCode)) {
    throw conflict('OFFER_NOT_COMPATIBLE', `Offer ${r.offerCode} cannot be held on plan ${scheduled.planCode}, which this line changes to on ${scheduled.startsAt.toISOString()}, and would still be valid then (until ${endsAt.toISOString()})`, {
      field: 'input.offerCode',
      scheduledPlanCode: scheduled.planCode,
    });
  }
}

/**
 * Orders the completion of `order` placed, still to be handed to fulfilment by whoever completed
 * it (the saga, the completeOrder mutation): the collections BAR of a line that went live on a held
 * account (see `holdActivatedLine`). Read again on a repeated completion, whose first answer may
 * have been lost before the hand-over; handing an order over twice joins the first hand-over.
 */
export async function ordersAfterCompletion(em: Em, order: ProductOrder): Promise<ProductOrder[]> {
  if (order.kind !== 'NEW_LINE' || order.status !== 'COMPLETED') return [];
  const bars = await em.find(ProductOrder, { lineId: order.lineId, kind: 'BAR', status: 'ACKNOWLEDGED' });
  if (bars.length === 0) return [];
  const held = new Set((await em.find(CollectionsHold, { barOrderId: { $in: bars.map((b) => b.id) } })).map((h) => h.barOrderId));
  return bars.filter((b) => held.has(b.id));
}

interface PlanChangeRequest {
  fromPlanVersionId: string;
  toPlanCode: string;
  toPlanVersionId: string;
  sharedAllowances: boolean;
  timing: 'IMMEDIATE' | 'END_OF_CYCLE';
  effectiveAt: string;
  /** The quote's estimate of what the change does to the period's bill (kept on the order, not charged). */
  items: OneOffItem[];
  /** The new plan's PLAN_CHANGE fees, charged when it starts; absent on orders placed before them. */
  fees?: PlanFee[];
  toPlanName?: string;
}

/**
 * Ends the current subscription and starts the new one (at once or as SCHEDULED). No prorated
 * one-off charges (the new plan's PLAN_CHANGE fee is `completeOrder`'s): each day of a line's
 * recurring fee is billed once, in one place. A postpaid line's fees are billed by invoicing at
 * the period's close from the subscription segments these events give it (the old plan for the
 * days it was held, the new plan for the rest), so the prorated credit
 * and charge of the quote stay an estimate on the order; before 2026-12 they were also created as
 * PLAN_CHANGE_PRORATION one-offs and the change was billed twice. A prepaid line's balance settles
 * its fees (wallets), and its quote has no items. An order placed before then still carries its
 * items: it is fulfilled the same way, without them.
 */
async function applyPlanChange(em: Em, order: ProductOrder, line: Line, account: BillingAccount, now: Date): Promise<Subscription> {
  const r = JSON.parse(order.request) as PlanChangeRequest;
  const effectiveAt = planChangeInstant(r, account, now);
  const current = await em.findOne(Subscription, { lineId: line.id, status: 'ACTIVE' }, { orderBy: { startsAt: 'desc' } });
  if (!current || current.planVersionId !== r.fromPlanVersionId) {
    throw new DomainError('PLAN_CHANGE_STALE_CONFLICT', `Line ${line.id} is no longer on the plan version this change was quoted for`, { field: 'input.lineId' });
  }
  current.endsAt = effectiveAt;
  if (r.timing === 'IMMEDIATE') current.status = 'ENDED';
  emitSubscription(em, 'subscriptionChanged', current, line, account, order.id, effectiveAt);
  const next = em.create(Subscription, {
    id: planChangeSubscriptionId(order.id),
    lineId: line.id,
    billingAccountId: account.id,
    planCode: r.toPlanCode,
    planVersionId: r.toPlanVersionId,
    status: r.timing === 'IMMEDIATE' ? 'ACTIVE' : 'SCHEDULED',
    sharedAllowances: r.sharedAllowances,
    addOns: current.addOns,
    startsAt: effectiveAt,
    endsAt: null,
    createdAt: now,
  });
  if (r.timing === 'IMMEDIATE') line.planCode = r.toPlanCode;
  emitSubscription(em, 'subscriptionCreated', next, line, account, order.id, effectiveAt);
  // The line's open upsell offers were made under the plan ended now (due changes were started
  // before this), for an allowance period that ended with it: withdrawn. An END_OF_CYCLE change
  // ends it when due (`applyDueSubscriptions`).
  if (r.timing === 'IMMEDIATE') await withdrawOpenOffers(em, line.id, { now, reason: (offer) => planEndedReason(offer.period, current, effectiveAt) });
  await flushOrder(em);
  return next;
}

/**
 * When the change takes effect. As quoted (`effectiveAt`: placement for IMMEDIATE, the cycle's end
 * for END_OF_CYCLE), except a postpaid IMMEDIATE change completing after the bill cycle it was placed
 * in has ended (Temporal retrying provisioning across the boundary; review 18): it takes effect at
 * completion. Invoicing bills a closed cycle once, from the segments it had then (the old plan, which
 * the network still gave the line), so a change dated into it was never charged or credited and the
 * next cycle was billed on the new plan from its first day. Dated at completion, the closed cycle is
 * right as billed and the next one is prorated where the line really changed. Deterministic for a
 * retried completion: it only runs while the order is not COMPLETED. Prepaid: as quoted (wallets
 * settles the allowance period itself).
 */
function planChangeInstant(r: Pick<PlanChangeRequest, 'timing' | 'effectiveAt'>, account: Pick<BillingAccount, 'paymentMode' | 'timezone' | 'billCycleDay'>, now: Date): Date {
  const quoted = new Date(r.effectiveAt);
  if (r.timing !== 'IMMEDIATE' || account.paymentMode !== 'POSTPAID') return quoted;
  const cycleEnd = startOfLocalDay(billingPeriodOf(localDateOf(quoted, account.timezone), account.billCycleDay).end, account.timezone);
  return now >= cycleEnd ? now : quoted;
}

/** → FAILED with a reason. Idempotent for a failed order; a completed order cannot fail. */
export async function failOrder(em: Em, orderId: string, failure: { code: string; message: string }, now: Date): Promise<ProductOrder> {
  const order = await loadOrder(em, orderId);
  if (order.status === 'FAILED') {
    await failAcceptedOffer(em, order); // an order failed before offers followed their orders
    return order;
  }
  order.status = moveOrder(order.status as OrderStatus, 'FAILED');
  order.failureCode = failure.code.slice(0, 80);
  order.failureMessage = failure.message;
  order.updatedAt = now;
  emitOrderState(em, order, now);
  await failAcceptedOffer(em, order);
  await em.flush();
  return order;
}

/** The failure code of an order whose fulfilment run ended without settling it (`failEndedOrder`). */
export const ORDER_FULFILMENT_ENDED = 'ORDER_FULFILMENT_ENDED';

/**
 * Fails an order whose fulfilment run ended without settling it (Temporal: the workflow terminated,
 * failed on a step refused for good, timed out or was cancelled; `OrderDispatcher.endedRun`). One
 * run per order id, ever, so nothing else would move it: it stayed ACKNOWLEDGED or IN_PROGRESS for
 * good, its line PENDING, nobody told. FAILED as any failed order (`failOrder`: its
 * `productOrderStateChanged`, an accepted upsell offer failed and the customer told), with
 * ORDER_FULFILMENT_ENDED and how the run ended (its status; what it said is the caller's to log).
 * Its number is held back as on the failure path: an order still ACKNOWLEDGED never reached the network (the workflow provisions only after
 * `startOrder` moved it IN_PROGRESS), so it is recorded undone at once; one IN_PROGRESS may have
 * been applied there (a run ended mid-provisioning, or its compensation never ran), so it holds
 * its number until the network is confirmed undone, as a failed activation does. Decided under the
 * order's lock: a step of the ended run still on its way (an activity outlives its workflow) either
 * landed first (then its outcome stands: a COMPLETED or FAILED order is left alone) or finds the
 * order FAILED. Returns the order and whether this call failed it.
 */
export async function failEndedOrder(em: Em, orderId: string, ended: { status: string; reason: string }, now: Date): Promise<{ order: ProductOrder; failed: boolean }> {
  const order = await loadOrder(em, orderId);
  if (order.status !== 'ACKNOWLEDGED' && order.status !== 'IN_PROGRESS') return { order, failed: false };
  const neverStarted = order.status === 'ACKNOWLEDGED';
  // Said to whoever reads the order (the customer too): how the run ended, not what it said (an
  // operator's note, a worker's error), which goes to the log for staff.
  const message = neverStarted
    ? `The order was not carried out: its fulfilment ended (${ended.status}) before it started`
    : `The order was not carried out: its fulfilment ended (${ended.status}) while in progress; the network may still hold part of it until it is undone`;
  const failed = await failOrder(em, orderId, { code: ORDER_FULFILMENT_ENDED, message }, now);
  return { order: neverStarted ? await recordNetworkUndone(em, failed.id, now) : failed, failed: true };
}

/**
 * The network confirmed the FAILED order undone (its compensation returned): from then its
 * activation, if it reached the network, no longer holds the number back. Kept as first confirmed;
 * an order not FAILED is left alone (one the service completed is live and was not undone).
 */
export async function recordNetworkUndone(em: Em, orderId: string, now: Date): Promise<ProductOrder> {
  const order = await loadOrder(em, orderId);
  if (order.status !== 'FAILED' || order.networkUndoneAt) return order;
  order.networkUndoneAt = now;
  await em.flush();
  return order;
}

/**
 * The upsell offer whose acceptance placed this (FAILED) ADD_ON order: ACCEPTED → FAILED, with the
 * order's failure as the reason, so the customer, the frontend and the workflow see that nothing
 * was bought. The customer may accept it again until it expires (`respondToUpsellOffer`: a new
 * order). Offer row after the order row, as `respondToUpsellOffer` never locks an order.
 */
async function failAcceptedOffer(em: Em, order: ProductOrder): Promise<void> {
  if (order.kind !== 'ADD_ON') return;
  const offer = await em.findOne(UpsellOffer, { orderId: order.id, state: 'ACCEPTED' }, { refresh: true });
  if (!offer) return;
  offer.state = 'FAILED';
  offer.reason = `Order ${order.id} failed: ${order.failureCode ?? 'ORDER_FAILED'}${order.failureMessage ? `: ${order.failureMessage}` : ''}`.slice(0, 200);
  emitUpsellOfferState(em, offer, order.updatedAt);
  await em.flush();
  // The customer accepted and nothing was bought: say so (and that they may accept again while it is open).
  await tellUpsell(em, offer, 'UPSELL_FAILED', order.updatedAt, order.id);
}
