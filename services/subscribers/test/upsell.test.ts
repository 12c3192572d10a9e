import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

/**
 * Upsell offers as the upsellOfferWorkflow drives them (present → remind → close) and as the
 * customer answers them: once per line, period and add-on; accepting orders the add-on once.
 */
let h: Harness;
let lineId = '';
let customerId = '';

const OFFER = `offer { id state reason offerCode name price { amount currency } expiresAt order { id kind status } }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status } } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const CLOSE = `mutation($i: UpsellOfferRefInput!) { closeUpsellOffer(input: $i) { ${OFFER} } }`;

async function call(query: string, variables: Record<string, unknown>, caller?: Caller) {
  return h.subscribers.request<any>(query, variables, caller);
}
const ok = (query: string, variables: Record<string, unknown>, caller?: Caller) => h.ok(query, variables, caller);
const owner = (): Caller => ({ role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] });
const messages = async (template: string) => (await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = $2`, [lineId, template]))[0]!.n;

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
  const c = await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Uma Upsell', kind: 'INDIVIDUAL' } });
  customerId = c.createCustomer.customer.id;
  const a = await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
  const l = await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: '+491701234599', planCode: 'POSTPAID_20GB' } });
  lineId = l.addLine.line.id;
});
afterAll(() => h?.close());

describe('upsell offers', () => {
  it('presents an offer once per line, period and add-on, and tells the customer', async () => {
    const input = { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' };
    const first = (await ok(PRESENT, { i: input })).presentUpsellOffer.offer;
    expect(first).toMatchObject({ state: 'PRESENTED', reason: null, offerCode: 'DATA_BOOST_5GB', name: 'Data Boost 5 GB', price: { amount: '5.00', currency: 'EUR' }, expiresAt: '2026-11-23T09:00:00.000Z', order: null });
    const again = (await ok(PRESENT, { i: { ...input, validForHours: 1 } })).presentUpsellOffer.offer;
    expect(again).toEqual(first);
    expect(await messages('UPSELL_OFFER')).toBe(1);
    const listed = await ok(`query($id: ID!) { line(id: $id) { offers(state: PRESENTED) { id } } }`, { id: lineId }, owner());
    expect(listed.line.offers).toEqual([{ id: first.id }]);
  });

  it('only workflows present offers, with a sensible validity; only the owner or staff answer them', async () => {
    const present = await call(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-12', rule: 'r' } }, owner());
    expect(present.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await call(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-12', rule: 'r', validForHours: 0 } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.validForHours' });
    const unknown = await call(PRESENT, { i: { lineId, offerCode: 'NO_SUCH_ADDON', period: '2026-12', rule: 'r' } });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const offerId = (await ok(`query($id: ID!) { line(id: $id) { offers { id } } }`, { id: lineId })).line.offers[0].id;
    const stranger = await call(RESPOND, { i: { offerId, accept: true } }, { role: 'CUSTOMER', subject: 'x', customerId: 'cus_other', scopes: [] });
    expect(stranger.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'UPSELLOFFER_NOT_FOUND' }); // as an unknown offer
    expect((await h.rows(`select state from upsell_offer where id = $1`, [offerId]))[0]).toEqual({ state: 'PRESENTED' });
  });

  it('accepting orders the add-on once; a repeated accept returns the same order; a decline afterwards is a conflict', async () => {
    const offerId = (await ok(`query($id: ID!) { line(id: $id) { offers { id } } }`, { id: lineId })).line.offers[0].id;
    const accepted = (await ok(RESPOND, { i: { offerId, accept: true } }, owner())).respondToUpsellOffer;
    expect(accepted.offer.state).toBe('ACCEPTED');
    expect(accepted.order).toMatchObject({ status: 'COMPLETED' });
    expect(accepted.offer.order).toMatchObject({ id: accepted.order.id, kind: 'ADD_ON' });
    const repeated = (await ok(RESPOND, { i: { offerId, accept: true } }, owner())).respondToUpsellOffer;
    expect(repeated.order.id).toBe(accepted.order.id);
    expect((await h.rows<{ n: number }>(`select count(*)::int n from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId]))[0]!.n).toBe(1);
    const decline = await call(RESPOND, { i: { offerId, accept: false } }, owner());
    expect(decline.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
    const sub = await ok(`query($id: ID!) { line(id: $id) { subscription { addOns { code } } } }`, { id: lineId });
    expect(sub.line.subscription.addOns.map((x: { code: string }) => x.code)).toEqual(['DATA_BOOST_5GB']);
  });

  it('an add-on already active is not offered again: the offer is WITHDRAWN with the reason', async () => {
    const r = (await ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-12', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    expect(r).toMatchObject({ state: 'WITHDRAWN', reason: 'DATA_BOOST_5GB is already active' });
  });

  it('an unanswered offer is reminded once, stays open until it expires, then expires', async () => {
    const offer = (await ok(PRESENT, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-11', rule: 'roaming-upsell', validForHours: 48 } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    expect((await ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('PRESENTED'); // not yet due
    h.clock.advance(24 * 3_600_000);
    await ok(REMIND, { i: { offerId: offer.id } });
    await ok(REMIND, { i: { offerId: offer.id } });
    expect(await messages('UPSELL_REMINDER')).toBe(1);
    h.clock.advance(25 * 3_600_000);
    expect((await ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('EXPIRED');
    const late = await call(RESPOND, { i: { offerId: offer.id, accept: true } }, owner());
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });

  it('a reminder of an offer the customer can no longer take (line suspended since) withdraws it instead, saying why', async () => {
    const a = await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
    const second = (await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: '+491701234598', planCode: 'POSTPAID_20GB' } })).addLine.line.id;
    const offer = (await ok(PRESENT, { i: { lineId: second, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-11', rule: 'roaming-upsell', validForHours: 48 } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    const suspended = await ok(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`, { i: { lineId: second, reason: 'phone lost' } });
    expect(suspended.suspendLine.line.status).toBe('SUSPENDED');
    const reminded = (await ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    const reminders = await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`, [second]);
    expect({ state: reminded.state, reason: reminded.reason, reminders: reminders[0]!.n }).toEqual({ state: 'WITHDRAWN', reason: 'line is SUSPENDED', reminders: 0 });
    const late = await call(RESPOND, { i: { offerId: offer.id, accept: true } }, owner());
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });
});
