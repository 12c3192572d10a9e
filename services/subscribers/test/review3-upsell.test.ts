import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { CatalogOffer } from '../src/ports/catalog-client';
import { startHarness, type Harness } from './support';

/**
 * Review: an upsell offer is one promise to the customer. It is answered once (accept XOR
 * decline), and accepting it buys the add-on on the terms that were offered (price, currency).
 */
let h: Harness;
let customerId = '';
let n = 0;

const OFFER = `offer { id state reason offerCode price { amount currency } order { id status } }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status } } }`;

const ok = (query: string, variables: Record<string, unknown>, caller?: Caller) => h.ok(query, variables, caller);
const owner = (): Caller => ({ role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] });

async function newLine(): Promise<string> {
  n += 1;
  // POSTPAID_20GB allows one line per account: one account per line.
  const accountId = (await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } })).openBillingAccount.billingAccount.id;
  const l = await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } } }`, { i: { billingAccountId: accountId, msisdn: `+4917012399${String(n).padStart(2, '0')}`, planCode: 'POSTPAID_20GB' } });
  expect(l.addLine.line.status).toBe('ACTIVE');
  return l.addLine.line.id;
}

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
  customerId = (await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Rita Review', kind: 'INDIVIDUAL' } })).createCustomer.customer.id;
});
afterAll(() => h?.close());

describe('review3: upsell offers', () => {
  it('an accept and a decline sent at the same time: exactly one of them wins, and the offer says which', async () => {
    // respondToUpsellOffer reads the offer without a row lock, so both answers see PRESENTED and both
    // commit (last writer wins on `state`, the accept's add-on order stays placed and is charged).
    const outcomes: string[] = [];
    for (let trial = 0; trial < 4; trial++) {
      const lineId = await newLine();
      const offer = (await ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
      expect(offer.state).toBe('PRESENTED');
      const [accept, decline] = await Promise.all([
        h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner()),
        h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: false } }, owner()),
      ]);
      const row = (await h.rows<{ state: string; order_id: string | null }>(`select state, order_id from upsell_offer where id = $1`, [offer.id]))[0]!;
      const orders = (await h.rows<{ n: number }>(`select count(*)::int n from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId]))[0]!.n;
      outcomes.push(`trial ${trial}: accept ${accept.errors ? accept.errors[0].extensions?.reason : 'OK'}, decline ${decline.errors ? decline.errors[0].extensions?.reason : 'OK'}, offer ${row.state}, add-on orders ${orders}`);
    }
    // Correct: the second answer to an offer is refused (OFFER_NOT_OPEN), as it is when sent one after
    // the other; the stored state agrees with the answer that won (DECLINED ⇔ no add-on order).
    const bothSucceeded = outcomes.filter((o) => o.includes('accept OK, decline OK'));
    const inconsistent = outcomes.filter((o) => /offer DECLINED, add-on orders [1-9]|offer ACCEPTED, add-on orders 0/.test(o));
    expect({ bothSucceeded, inconsistent }, `only one answer per offer may succeed; got ${JSON.stringify(outcomes)}`).toEqual({ bothSucceeded: [], inconsistent: [] });
  });

  it('accepting an offer charges the price that was offered, even if the catalog price changed since', async () => {
    const lineId = await newLine();
    const offer = (await ok(PRESENT, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-11', rule: 'roaming-upsell' } })).presentUpsellOffer.offer;
    expect(offer).toMatchObject({ state: 'PRESENTED', price: { amount: '9.99', currency: 'EUR' } });

    // The product manager reprices the pass while the offer is open (72 h).
    const catalog = h.catalogClient as { offer(code: string): Promise<CatalogOffer | null> };
    const original = catalog.offer.bind(catalog);
    catalog.offer = async (code) => {
      const o = await original(code);
      return o && code === 'ROAM_WORLD_PASS_7D' ? { ...o, price: '14.99' } : o;
    };
    try {
      const accepted = (await ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner())).respondToUpsellOffer;
      expect(accepted.offer.state).toBe('ACCEPTED');
      const charges = await h.rows<{ amount: string; currency: string }>(`select amount::text, currency from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [lineId]);
      // Correct: the customer accepted "ROAM_WORLD_PASS_7D for 9.99 EUR" (the offer row, the
      // notification and the API all say 9.99); the order must carry the offered price.
      expect(charges.map((c) => `${Number(c.amount).toFixed(2)} ${c.currency}`), 'the add-on bought through an offer is charged at the offered price (9.99 EUR), not a later catalog price').toEqual(['9.99 EUR']);
    } finally {
      catalog.offer = original;
    }
  });

  it('an add-on priced in another currency than the account is not presented (WITHDRAWN with a reason), since it could never be accepted', async () => {
    const lineId = await newLine();
    const catalog = h.catalogClient as { offer(code: string): Promise<CatalogOffer | null> };
    const original = catalog.offer.bind(catalog);
    catalog.offer = async (code) => {
      const o = await original(code);
      return o && code === 'DATA_BOOST_5GB' ? { ...o, currency: 'USD' } : o;
    };
    try {
      const offer = (await ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
      const answer = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner());
      const told = (await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_OFFER'`, [lineId]))[0]!.n;
      // Correct: addAddOn refuses an add-on in another currency (OFFER_CURRENCY_MISMATCH), so
      // presentUpsellOffer must withdraw it like an incompatible plan, not tell the customer about
      // an offer whose "accept" is then refused.
      expect(
        { state: offer.state, customerTold: told, acceptError: answer.errors?.[0]?.extensions?.reason ?? null },
        'a USD add-on offered to a EUR account must be WITHDRAWN, without a message to the customer',
      ).toEqual({ state: 'WITHDRAWN', customerTold: 0, acceptError: 'OFFER_NOT_OPEN' });
    } finally {
      catalog.offer = original;
    }
  });
});
