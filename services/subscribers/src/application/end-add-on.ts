import { createHash } from 'node:crypto';
import { badInput, conflict, formatAmount, notFound, type AddOnEndedData, type Money } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { addOnRefund, endPurchase, purchaseInForce, samePurchase, type AddOnEntry } from '../domain/add-ons';
import { utcMinute } from '../domain/notifications';
import { assertIdempotencyKey } from '../domain/validation';
import { BillingAccount, Line, OneOffCharge, ProductOrder, Subscription } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import { addOnGrantKey } from './add-on-settlement';
import type { LineOrderResult } from './add-line';
import { emitOneOffCharge, emitOrderState, emitSubscription, SOURCE } from './events';
import { assertNoOpenOrder, flushOrder, lockLine } from './line-orders';
import { recordNotifications } from './notifications';
import { findReplayedLineOrder, findReplayedOrder, placeOrder } from './place-order';
import { currentSubscription } from './plans';
import { applyDueSubscriptions } from './activate-due-subscriptions';

export interface EndAddOnCommand {
  lineId: string;
  /** The add-on, as bought (`addAddOn`'s offerCode): its purchase valid now on the line is ended. */
  offerCode: string;
  reason?: string | null;
  idempotencyKey: string;
  now: Date;
}

/** What an ADD_ON_END order did, fixed when it was placed (its `request`): a replay answers the same. */
export interface AddOnEndRequest {
  purchaseOrderId: string;
  subscriptionId: string;
  offerCode: string;
  startsAt: string;
  endsAt: string | null;
  endedAt: string;
  reason: string | null;
  refund: Money;
  unusedDays: number;
  creditChargeId: string | null;
}

export interface EndAddOnResult extends LineOrderResult {
  ended: AddOnEndRequest;
}

/** The id of the CREDIT giving back a purchase's unused part: one per purchase (its ADD_ON order). */
export const addOnEndCreditId = (purchaseOrderId: string): string => `chg_${createHash('sha256').update(`${purchaseOrderId}\u001fend`).digest('hex').slice(0, 32)}`;

/**
 * Ends an add-on purchase before it lapses (the customer no longer wants it, or a plan change it
 * blocks): an ADD_ON_END order, completed as it is placed (only billing changes: the network is not
 * asked, as nothing on it was set up for the add-on's end date either). In one transaction, with
 * the line locked: the purchase is valid until now on the subscription (and no longer carried to a
 * plan change waiting to start), the unused whole days of its price go back as a CREDIT one-off
 * (reason ADD_ON_PURCHASE, on the path its charge took: wallets credits a prepaid balance, invoicing
 * puts it on a postpaid account's next bill), and `addon.ended` tells wallets to revoke its buckets.
 * Same key, same input: the first answer. A purchase not valid now (ended, lapsed, never bought):
 * CONFLICT `ADDON_NOT_ACTIVE` on `input.offerCode`.
 */
export async function endAddOn(em: Em, catalog: CatalogClient, c: EndAddOnCommand): Promise<EndAddOnResult> {
  const { now, ...input } = c;
  const key = assertIdempotencyKey(typeof c.idempotencyKey === 'string' ? c.idempotencyKey.trim() : '');
  if (typeof c.offerCode !== 'string' || !c.offerCode.trim()) throw badInput('input.offerCode', 'Name the add-on to end (its offer code, e.g. DATA_BOOST_5GB)', 'OFFER_CODE_REQUIRED');
  const reason = typeof c.reason === 'string' && c.reason.trim() ? c.reason.trim() : null;
  if (reason && [...reason].length > 300) throw badInput('input.reason', 'A reason is at most 300 characters', 'REASON_TOO_LONG');
  const early = await findReplayedLineOrder(em, c.lineId, key, 'ADD_ON_END', input);
  if (early) return replayed(em, early);
  // The offer's allowances name the buckets to revoke; asked before the line is locked (it may take seconds).
  const offer = await catalog.offer(c.offerCode);
  // Locked before the checks: a second request for the line waits here, then sees this one's end.
  const line = await lockLine(em, c.lineId);
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  const replay = await findReplayedOrder(em, line.billingAccountId, key, 'ADD_ON_END', input);
  if (replay) return replayed(em, replay);
  // A plan change due since the boundary is started first (as the sweep would): the purchase is
  // ended on the plan in force now, which carried it.
  await applyDueSubscriptions(em, line, now);
  const sub = await currentSubscription(em, line.id);
  const purchase = sub?.status === 'ACTIVE' ? purchaseInForce(JSON.parse(sub.addOns) as AddOnEntry[], c.offerCode, now) : undefined;
  if (!sub || !purchase) throw notActive(line, c.offerCode, sub);
  await assertNoOpenOrder(em, line.id);
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  const bought = await purchaseOrder(em, line.id, purchase);
  const price: Money = bought ? (JSON.parse(bought.request) as { price: Money }).price : { amount: '0', currency: account.currency };
  const refund = addOnRefund(price, purchase, now);
  const credit = bought && !refund.amount.isZero() ? addOnEndCreditId(bought.id) : null;
  const ended: AddOnEndRequest = {
    purchaseOrderId: bought?.id ?? '',
    subscriptionId: sub.id,
    offerCode: purchase.code,
    startsAt: purchase.startsAt,
    endsAt: purchase.endsAt,
    endedAt: now.toISOString(),
    reason,
    refund: { amount: refund.amount.toFixed(), currency: price.currency },
    unusedDays: refund.unusedDays,
    creditChargeId: credit,
  };
  const order = placeOrder(em, { kind: 'ADD_ON_END', billingAccountId: account.id, lineId: line.id, request: { ...ended }, idempotencyKey: key, input, now });
  order.status = 'COMPLETED';
  order.completedAt = now;
  emitOrderState(em, order, now);

  sub.addOns = JSON.stringify(endPurchase(JSON.parse(sub.addOns) as AddOnEntry[], purchase, now));
  emitSubscription(em, 'subscriptionChanged', sub, line, account, order.id, now);
  // A plan change waiting to start carried the purchase (valid then); ended before, it is not carried.
  const scheduled = await em.findOne(Subscription, { lineId: line.id, status: 'SCHEDULED' });
  const waiting = scheduled ? (JSON.parse(scheduled.addOns) as AddOnEntry[]) : [];
  if (scheduled && waiting.some((a) => samePurchase(a, purchase))) {
    scheduled.addOns = JSON.stringify(waiting.filter((a) => !samePurchase(a, purchase)));
    emitSubscription(em, 'subscriptionChanged', scheduled, line, account, order.id, now);
  }
  const charge = credit
    ? em.create(OneOffCharge, {
        id: credit,
        billingAccountId: account.id,
        lineId: line.id,
        subscriptionId: sub.id,
        orderId: order.id,
        kind: 'CREDIT',
        reason: 'ADD_ON_PURCHASE',
        amount: refund.amount.negated().toFixed(),
        currency: price.currency,
        description: `Refund: ${purchase.code} for ${line.msisdn} ended, ${refund.unusedDays} of ${refund.periodDays} days unused`,
        periodStart: null,
        periodEnd: null,
        chargedAt: now,
      })
    : null;
  const data: AddOnEndedData = {
    orderId: order.id,
    purchaseOrderId: ended.purchaseOrderId,
    lineId: line.id,
    billingAccountId: account.id,
    subscriptionId: sub.id,
    offerCode: purchase.code,
    startsAt: purchase.startsAt,
    endsAt: purchase.endsAt ?? ended.endedAt,
    endedAt: ended.endedAt,
    reason,
    grantKeys: bought ? (offer?.allowances ?? []).map((a) => addOnGrantKey(bought.id, a.id)) : [],
    refund: ended.refund,
    creditChargeId: credit,
  };
  enqueueEvent(em, 'addOnEnded', { source: SOURCE, subject: line.id, key: [line.id, purchase.code, purchase.startsAt, 'ended'], time: now, data });
  await flushOrder(em);
  if (charge) emitOneOffCharge(em, charge);
  await em.flush();
  // The customer hears of it whoever ended it (they, or an agent clearing the way for a plan change): once per order.
  await recordNotifications(
    em,
    [
      {
        eventType: 'ADD_ON_ENDED',
        eventId: `${order.id}:ADD_ON_ENDED`,
        billingAccountId: account.id,
        lineId: line.id,
        template: 'ADD_ON_ENDED',
        preferredChannel: null,
        params: {
          offerName: offer?.name ?? purchase.code,
          msisdn: line.msisdn,
          endedAt: utcMinute(ended.endedAt),
          ...(credit ? { refund: formatAmount(ended.refund.amount, ended.refund.currency), unusedDays: String(refund.unusedDays), creditGoes: account.paymentMode === 'PREPAID' ? 'to your balance' : 'on your next invoice' } : {}),
        },
      },
    ],
    now,
  );
  return { line, order, ended };
}

async function replayed(em: Em, order: ProductOrder): Promise<EndAddOnResult> {
  return { order, line: await em.findOneOrFail(Line, { id: order.lineId }), ended: JSON.parse(order.request) as AddOnEndRequest };
}

/**
 * The ADD_ON order that sold `purchase` on the line: its offer, and its start (the instant fixed
 * before wallets was asked, else its completion). Null for a purchase no order of this service
 * made (none today): ended then without a refund or grants to revoke.
 */
async function purchaseOrder(em: Em, lineId: string, purchase: AddOnEntry): Promise<ProductOrder | null> {
  const orders = await em.find(ProductOrder, { lineId, kind: 'ADD_ON', status: 'COMPLETED' }, { orderBy: { completedAt: 'desc', id: 'desc' } });
  return (
    orders.find((o) => (JSON.parse(o.request) as { offerCode: string }).offerCode === purchase.code && (o.sagaChargeAt ?? o.completedAt)?.toISOString() === purchase.startsAt) ?? null
  );
}

/** CONFLICT `ADDON_NOT_ACTIVE` on `input.offerCode`, saying whether the line's last purchase of it ended, lapsed or never was. */
function notActive(line: Line, code: string, sub: Subscription | null): Error {
  const last = sub ? (JSON.parse(sub.addOns) as AddOnEntry[]).filter((a) => a.code === code).at(-1) : undefined;
  const what = last?.endsAt ? `its last purchase ended on ${last.endsAt}` : 'none was bought on its current plan';
  return conflict('ADDON_NOT_ACTIVE', `Add-on ${code} is not valid on line ${line.id} now (${what}); nothing to end`, { field: 'input.offerCode', ...(last?.endsAt ? { endedAt: last.endsAt } : {}) });
}
