import type { LineStateData, OneOffChargeData, SubscriptionData, UpsellOfferStateData } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import type { BillingAccount, Line, OneOffCharge, ProductOrder, Subscription, UpsellOffer } from '../persistence/entities';

export const SOURCE = 'ledgerline/subscribers';

/** `change` names the state change (an order id, or a timestamp) so the event id is deterministic. */
export function emitLineState(em: Em, line: Line, change: string, now: Date): void {
  const data: LineStateData = { lineId: line.id, msisdn: line.msisdn, billingAccountId: line.billingAccountId, status: line.status as LineStateData['status'], ...(line.iccid ? { iccid: line.iccid } : {}) };
  enqueueEvent(em, 'lineStateChanged', { source: SOURCE, subject: line.id, key: [line.id, line.status, change], time: now, data });
}

export function subscriptionData(sub: Subscription, line: Line, account: BillingAccount): SubscriptionData {
  return {
    subscriptionId: sub.id,
    lineId: line.id,
    msisdn: line.msisdn,
    billingAccountId: account.id,
    paymentMode: account.paymentMode as SubscriptionData['paymentMode'],
    currency: account.currency,
    planCode: sub.planCode,
    planVersionId: sub.planVersionId,
    status: sub.status,
    startsAt: sub.startsAt.toISOString(),
    endsAt: sub.endsAt ? sub.endsAt.toISOString() : null,
    addOns: JSON.parse(sub.addOns) as SubscriptionData['addOns'],
  };
}

export function emitSubscription(em: Em, name: 'subscriptionCreated' | 'subscriptionChanged', sub: Subscription, line: Line, account: BillingAccount, change: string, now: Date): void {
  enqueueEvent(em, name, { source: SOURCE, subject: sub.id, key: [sub.id, sub.status, change], time: now, data: subscriptionData(sub, line, account) });
}

export function emitOrderState(em: Em, order: ProductOrder, now: Date): void {
  enqueueEvent(em, 'productOrderStateChanged', {
    source: SOURCE,
    subject: order.id,
    key: [order.id, order.status],
    time: now,
    data: { orderId: order.id, kind: order.kind, status: order.status, lineId: order.lineId, billingAccountId: order.billingAccountId, failureCode: order.failureCode, failureMessage: order.failureMessage },
  });
}

export function emitOneOffCharge(em: Em, charge: OneOffCharge): void {
  const data: OneOffChargeData = {
    chargeId: charge.id,
    billingAccountId: charge.billingAccountId,
    lineId: charge.lineId ?? null,
    subscriptionId: charge.subscriptionId ?? null,
    orderId: charge.orderId ?? null,
    kind: charge.kind as OneOffChargeData['kind'],
    reason: charge.reason as OneOffChargeData['reason'],
    amount: charge.amount,
    currency: charge.currency,
    description: charge.description,
    periodStart: charge.periodStart ?? null,
    periodEnd: charge.periodEnd ?? null,
    chargedAt: charge.chargedAt.toISOString(),
  };
  enqueueEvent(em, 'oneOffChargeCreated', { source: SOURCE, subject: charge.id, key: [charge.id], time: charge.chargedAt, data });
}

/** An upsell offer's state for partners (CRM, campaign tools): once per state and order (the key). */
export function emitUpsellOfferState(em: Em, offer: UpsellOffer, now: Date): void {
  const data: UpsellOfferStateData = {
    offerId: offer.id,
    lineId: offer.lineId,
    billingAccountId: offer.billingAccountId,
    offerCode: offer.offerCode,
    offerName: offer.offerName,
    price: { amount: offer.price, currency: offer.currency },
    period: offer.period,
    rule: offer.rule,
    state: offer.state as UpsellOfferStateData['state'],
    reason: offer.reason ?? null,
    orderId: offer.orderId ?? null,
    expiresAt: offer.expiresAt.toISOString(),
    changedAt: now.toISOString(),
  };
  enqueueEvent(em, 'upsellOfferStateChanged', { source: SOURCE, subject: offer.id, key: [offer.id, offer.state, offer.orderId ?? ''], time: now, data });
}
