import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

/**
 * The upsell reminder ("last chance") is sent only for an offer accepting would still sell. A
 * customer who bought the offered add-on directly after the offer was presented (the app's add-on
 * page rather than the offer's button) was reminded of it 24 h before it expired, and accepting
 * then was refused ADDON_ALREADY_ACTIVE; the offer stayed PRESENTED in `line.offers` until it
 * expired. The reminder now withdraws it with the reason presenting gives ("… is already active"),
 * as it does for a line no longer active or an add-on retired since.
 */
let h: Harness;
let customerId = '';

const OFFER = `offer { id state reason }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} } }`;
const BUY = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { id status } line { subscription { addOns { code } } } } }`;

const owner = (): Caller => ({ role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] });

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
  customerId = (await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Rita Reminder', kind: 'INDIVIDUAL' } })).createCustomer.customer.id;
});
afterAll(() => h?.close());

describe('upsell reminder of an add-on the customer bought since', () => {
  it('withdraws the offer with the reason instead of reminding', async () => {
    const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
    const lineId = (await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: '+491701234597', planCode: 'POSTPAID_20GB' } })).addLine.line.id;
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-01', rule: 'offer-data-boost-at-80', validForHours: 48 } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');

    // The customer buys the boost directly, not through the offer.
    const bought = (await h.ok(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB' } }, owner())).addAddOn;
    expect({ status: bought.order.status, addOns: bought.line.subscription.addOns }).toEqual({ status: 'COMPLETED', addOns: [{ code: 'DATA_BOOST_5GB' }] });

    h.clock.advance(24 * 3_600_000);
    const reminded = (await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    const reminders = await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`, [lineId]);
    expect({ state: reminded.state, reason: reminded.reason, reminders: reminders[0]!.n }).toEqual({ state: 'WITHDRAWN', reason: 'DATA_BOOST_5GB is already active', reminders: 0 });
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner());
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });
});
