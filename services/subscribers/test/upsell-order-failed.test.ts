import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import type { BucketGrant, PurchaseCharge, WalletsPort } from '../src/ports/wallets-client';

/**
 * Review 18: an upsell offer the customer accepted whose add-on order then fails (the prepaid
 * balance does not cover it, the network refuses it) stayed ACCEPTED: the customer and the
 * frontend saw the add-on as taken, the workflow reported a conversion, and the offer could not be
 * accepted again. Now the offer is FAILED with the order's reason, and may be accepted again
 * (a new order) until it expires.
 */
class Wallets implements WalletsPort {
  balance = 0;
  charges: PurchaseCharge[] = [];
  async chargePurchase(c: PurchaseCharge) {
    this.charges.push(c);
    if (Number(c.amount) > this.balance) return { outcome: 'DENIED' as const, reason: 'WALLET_INSUFFICIENT_BALANCE' };
    this.balance -= Number(c.amount);
    return { outcome: 'APPLIED' as const, reason: null };
  }
  async grantBucket(_g: BucketGrant) {}
  async closeCharge() {
    return { taken: false, outcome: null };
  }
  async revokeGrant() {}
  async allowancePeriod() {
    return null;
  }
}

let h: Harness;
const wallets = new Wallets();
let n = 0;

const OFFER = `offer { id state reason order { id status failureCode } }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status failureCode } } }`;
const CLOSE = `mutation($i: UpsellOfferRefInput!) { closeUpsellOffer(input: $i) { ${OFFER} } }`;

async function lineOn(paymentMode: 'PREPAID' | 'POSTPAID', planCode: string): Promise<{ lineId: string; msisdn: string; owner: Caller }> {
  n += 1;
  const msisdn = `+4917011188${String(n).padStart(2, '0')}`;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Owner ${msisdn}`, kind: 'INDIVIDUAL' } });
  const customerId = c.createCustomer.customer.id as string;
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode, currency: 'EUR', ...(paymentMode === 'POSTPAID' ? { creditLimit: '100.00' } : {}) } });
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn, planCode } });
  return { lineId: l.addLine.line.id, msisdn, owner: { role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] } };
}

const present = async (lineId: string, offerCode = 'DATA_BOOST_5GB') => (await h.ok(PRESENT, { i: { lineId, offerCode, period: '2026-11', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
/** The offer's announcements on the outbox (billing.subscribers.upselloffer.statechanged), in order: state and order. */
const offerEvents = async (offerId: string) =>
  (await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.upselloffer.statechanged' and payload like $1 order by seq`, [`%"${offerId}"%`]))
    .map((r) => JSON.parse(r.payload).data)
    .map((d: any) => `${d.state}${d.orderId ? `:${d.orderId}` : ''}`);
const messagesOf = async (lineId: string) => (await h.rows<{ template: string }>(`select template from communication_message where line_id = $1 and template like 'UPSELL%' order by template`, [lineId])).map((r) => r.template);
const offerRow = async (id: string) => (await h.rows<{ state: string; reason: string | null; order_id: string | null }>(`select state, reason, order_id from upsell_offer where id = $1`, [id]))[0]!;

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z', wallets });
});
afterAll(() => h?.close());

describe('review 18: an accepted upsell whose add-on order fails', () => {
  it('prepaid balance too low: the offer is FAILED with the order\'s reason; after a top-up the customer accepts again and gets the add-on once', async () => {
    wallets.balance = 0;
    const { lineId, owner } = await lineOn('PREPAID', 'PREPAID_PAYG');
    const offer = await present(lineId);
    const answer = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    expect(answer.order).toMatchObject({ status: 'FAILED', failureCode: 'ADDON_PAYMENT_DENIED' });
    const failedOrderId = answer.order.id;
    // Correct: the offer says the purchase did not happen, and why (it stayed ACCEPTED before).
    const seen = (await h.ok(`query($id: ID!) { line(id: $id) { offers { id state reason order { id status } } } }`, { id: lineId }, owner)).line.offers;
    expect(seen).toEqual([{ id: offer.id, state: 'FAILED', reason: expect.stringContaining('ADDON_PAYMENT_DENIED'), order: { id: failedOrderId, status: 'FAILED' } }]);
    expect(await offerRow(offer.id)).toMatchObject({ state: 'FAILED', order_id: failedOrderId });

    // Until it expires the customer may still answer (decline, or accept again): here after a top-up.
    wallets.balance = 12;
    const again = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    expect(again.order.status).toBe('COMPLETED');
    expect(again.order.id).not.toBe(failedOrderId);
    expect(again.offer).toMatchObject({ state: 'ACCEPTED', reason: null, order: { id: again.order.id, status: 'COMPLETED' } });
    // Repeating the accept returns that order; nothing is bought twice.
    const repeated = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    expect(repeated.order.id).toBe(again.order.id);
    expect(wallets.balance).toBe(7);
    expect((await h.rows<{ n: number }>(`select count(*)::int n from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId]))[0]!.n).toBe(2);
    expect((await h.rows<{ n: number }>(`select count(*)::int n from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [lineId]))[0]!.n).toBe(1);
    // Partners see each state once (the repeated accept announces nothing); the customer is told the first purchase failed.
    expect(await offerEvents(offer.id)).toEqual(['PRESENTED', `ACCEPTED:${failedOrderId}`, `FAILED:${failedOrderId}`, `ACCEPTED:${again.order.id}`]);
    expect(await messagesOf(lineId)).toEqual(['UPSELL_FAILED', 'UPSELL_OFFER']);
  });

  it('the network refuses the add-on (postpaid): FAILED with the reason; a FAILED offer is not accepted once expired and stays FAILED when closed', async () => {
    const { lineId, msisdn, owner } = await lineOn('POSTPAID', 'POSTPAID_20GB');
    h.sandbox.behave('ADD_ON', msisdn, { mode: 'reject', code: 'ADDON_NOT_PROVISIONED' });
    try {
      const offer = await present(lineId, 'ROAM_WORLD_PASS_7D');
      const answer = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
      expect(answer.order.status).toBe('FAILED');
      expect(await offerRow(offer.id)).toMatchObject({ state: 'FAILED', reason: expect.stringContaining('ADDON_NOT_PROVISIONED') });
      // Nobody answers again: once expired the offer stays FAILED (closing leaves it) and takes no answer.
      h.clock.advance(73 * 3_600_000);
      expect((await h.ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('FAILED');
      const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
      expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
      expect((await h.rows<{ n: number }>(`select count(*)::int n from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [lineId]))[0]!.n).toBe(0);
      // Closing a FAILED offer announces nothing more.
      expect(await offerEvents(offer.id)).toEqual(['PRESENTED', `ACCEPTED:${answer.order.id}`, `FAILED:${answer.order.id}`]);
    } finally {
      h.sandbox.behave('ADD_ON', msisdn, null);
    }
  });

  it('partners hear every state of an offer once: DECLINED, EXPIRED, WITHDRAWN with its reason', async () => {
    wallets.balance = 50;
    const { lineId, owner } = await lineOn('PREPAID', 'PREPAID_PAYG');
    const declined = await present(lineId, 'ROAM_WORLD_PASS_7D');
    await h.ok(RESPOND, { i: { offerId: declined.id, accept: false } }, owner);
    await h.ok(RESPOND, { i: { offerId: declined.id, accept: false } }, owner); // the same answer again: nothing new
    const bought = await present(lineId);
    const order = (await h.ok(RESPOND, { i: { offerId: bought.id, accept: true } }, owner)).respondToUpsellOffer.order;
    expect(order.status).toBe('COMPLETED');
    // The same add-on offered again while it is active: withdrawn, announced with the reason, the customer not told.
    const again = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-b', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    const withdrawn = (await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.upselloffer.statechanged' and payload like $1`, [`%"${again.id}"%`])).map((r) => JSON.parse(r.payload).data);
    const expiring = (await h.ok(PRESENT, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-12', rule: 'offer-roaming' } })).presentUpsellOffer.offer;
    h.clock.advance(73 * 3_600_000);
    await h.ok(CLOSE, { i: { offerId: expiring.id } });
    await h.ok(CLOSE, { i: { offerId: expiring.id } });
    expect({
      declined: await offerEvents(declined.id),
      bought: await offerEvents(bought.id),
      withdrawn: withdrawn.map((d: any) => ({ state: d.state, reason: d.reason, offerCode: d.offerCode, lineId: d.lineId, price: d.price })),
      expired: await offerEvents(expiring.id),
      messages: await messagesOf(lineId),
    }).toEqual({
      declined: ['PRESENTED', 'DECLINED'],
      bought: ['PRESENTED', `ACCEPTED:${order.id}`],
      withdrawn: [{ state: 'WITHDRAWN', reason: 'DATA_BOOST_5GB is already active', offerCode: 'DATA_BOOST_5GB', lineId, price: { amount: expect.stringMatching(/^5(\.0+)?$/), currency: 'EUR' } }],
      expired: ['PRESENTED', 'EXPIRED'],
      messages: ['UPSELL_OFFER', 'UPSELL_OFFER', 'UPSELL_OFFER'],
    });
  });
});
