import { conflict, DomainError, money, notFound, type Money } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { addOnEndsAt, inForceAt, offerFitsPlan, type AddOnEntry } from '../domain/add-ons';
import { assertOptionalIdempotencyKey } from '../domain/validation';
import { BillingAccount, Line, Subscription } from '../persistence/entities';
import type { CatalogClient, CatalogOffer } from '../ports/catalog-client';
import type { LineOrderResult } from './add-line';
import { assertNoOpenOrder, lockLine } from './line-orders';
import { findReplayedLineOrder, placeOrder } from './place-order';
import { plansAt } from './plans';
import { applyDueSubscriptions } from './activate-due-subscriptions';

export interface AddAddOnCommand {
  lineId: string;
  offerCode: string;
  idempotencyKey?: string | null;
  now: Date;
}

/**
 * Terms already promised to the customer (an accepted upsell offer): the order charges this
 * price, not the catalog's price of the day. Not part of the public input: only use cases pass it.
 */
export interface OfferedTerms {
  price: Money;
}

export type { AddOnEntry } from '../domain/add-ons';

/**
 * Orders an add-on (data boost, roaming pass) on the line's current subscription, billed once, at
 * the catalog price, or at the `offered` price when the customer accepted an offer for it.
 */
export async function addAddOn(em: Em, catalog: CatalogClient, c: AddAddOnCommand, offered?: OfferedTerms): Promise<LineOrderResult> {
  const { now, ...input } = c;
  assertOptionalIdempotencyKey(c.idempotencyKey);
  // Takes the key's lock (see findReplayedOrder) before anything else: a retry sent while the first
  // request runs waits for it and gets its order (before, it found none yet and was refused
  // ORDER_ALREADY_OPEN or ADDON_ALREADY_ACTIVE by the first request's own order).
  const replay = await findReplayedLineOrder(em, c.lineId, c.idempotencyKey, 'ADD_ON', input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }) };
  const early = await em.findOne(Line, { id: c.lineId });
  if (!early) throw notFound('Line', c.lineId, 'input.lineId');
  // Read first without the lock (refused at once, the line row free while the catalog is asked),
  // then again under the line's lock, which orders completing and placing take: a purchase of the
  // same add-on or a suspension completed while this request waited is seen there (before, the
  // checks were made only before the lock: the add-on was sold twice, or on a suspended line).
  const seen = await lineAndPlan(em, early, now, false);
  const offer = await catalog.offer(c.offerCode);
  if (!offer) throw notFound('Offer', c.offerCode, 'input.offerCode');
  if (offer.status === 'RETIRED') throw conflict('OFFER_RETIRED', `Offer ${offer.code} is no longer sold (retired in the catalog)`, { field: 'input.offerCode' });
  const account = await em.findOneOrFail(BillingAccount, { id: early.billingAccountId });
  const price = offered?.price ?? money(offer.price, offer.currency);
  if (price.currency !== account.currency) {
    throw new DomainError('OFFER_CURRENCY_MISMATCH', `Offer ${offer.code} is priced in ${price.currency}, but the account bills in ${account.currency}`, { field: 'input.offerCode' }, 'BAD_USER_INPUT');
  }
  offerHoldable(offer, seen, now);
  const line = await lockLine(em, early.id);
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  // A plan change due since the boundary is started first (the sweep's own step, under the lock):
  // the add-on is sold on, and checked against, the plan in force now; the order names that
  // subscription, so the sweep cannot end it before the order completes.
  await applyDueSubscriptions(em, line, now);
  const plans = await lineAndPlan(em, line, now, true);
  offerHoldable(offer, plans, now);
  const sub = plans.current;
  await assertNoOpenOrder(em, line.id);
  const order = placeOrder(em, {
    kind: 'ADD_ON',
    billingAccountId: account.id,
    lineId: line.id,
    request: { subscriptionId: sub.id, offerCode: offer.code, price, validityDays: offer.validityDays, compatiblePlans: [...offer.compatiblePlans] },
    idempotencyKey: c.idempotencyKey,
    input,
    now,
  });
  await em.flush();
  return { line, order };
}

/**
 * The line is ACTIVE and on an ACTIVE plan: that subscription and a plan change still waiting, as
 * they stand at `now` (`plansAt`: a change due since the boundary is the plan in force, before a
 * sweep has started it). `fresh`: read again from the database.
 */
async function lineAndPlan(em: Em, line: Line, now: Date, fresh: boolean): Promise<{ current: Subscription; scheduled: Subscription | null }> {
  if (line.status !== 'ACTIVE') throw conflict('LINE_NOT_ACTIVE_CONFLICT', `Add-ons need an ACTIVE line; line ${line.id} is ${line.status}`, { field: 'input.lineId' });
  const { current, scheduled } = await plansAt(em, line.id, now, fresh);
  if (!current || current.status !== 'ACTIVE') throw conflict('SUBSCRIPTION_NOT_FOUND_CONFLICT', `Line ${line.id} has no active plan`, { field: 'input.lineId' });
  return { current, scheduled };
}

/**
 * `offer` may be sold on the line now: its plan holds it, a plan change waiting to start holds it
 * too if it would still be valid then, and no purchase of it is valid now (one at a time).
 */
function offerHoldable(offer: CatalogOffer, plans: { current: Subscription; scheduled: Subscription | null }, now: Date): void {
  const { current: sub, scheduled } = plans;
  if (!offerFitsPlan(offer.compatiblePlans, sub.planCode)) {
    throw new DomainError('OFFER_NOT_COMPATIBLE', `Offer ${offer.code} cannot be added to plan ${sub.planCode}`, { field: 'input.offerCode' }, 'BAD_USER_INPUT');
  }
  // A plan change already scheduled takes the add-ons still valid when it starts (`carryAddOns`):
  // one its plan cannot hold is not sold if it would still be valid then (it would be cut short,
  // paid for; the plan change refuses the same, see `assertAddOnsFitPlan`).
  if (scheduled && addOnEndsAt(now, offer.validityDays) > scheduled.startsAt && !offerFitsPlan(offer.compatiblePlans, scheduled.planCode)) {
    throw new DomainError(
      'OFFER_NOT_COMPATIBLE',
      `Offer ${offer.code} cannot be held on plan ${scheduled.planCode}, which this line changes to on ${scheduled.startsAt.toISOString()}, and would still be valid then`,
      { field: 'input.offerCode', scheduledPlanCode: scheduled.planCode },
      'BAD_USER_INPUT',
    );
  }
  const active = (JSON.parse(sub.addOns) as AddOnEntry[]).find((a) => a.code === offer.code && inForceAt(a, now));
  if (active) throw conflict('ADDON_ALREADY_ACTIVE', `${offer.code} is active on this line until ${active.endsAt}`, { field: 'input.offerCode' });
}
