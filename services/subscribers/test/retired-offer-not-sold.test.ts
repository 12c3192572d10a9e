/**
 * An add-on offer retired in the catalog (retireOffer) is no longer sold: addAddOn refuses it
 * (CONFLICT OFFER_RETIRED naming input.offerCode) and an upsell offer of it is WITHDRAWN with the
 * reason, while an add-on bought before keeps running. Before, the catalog could not retire an
 * offer, so there was nothing to refuse. Runs against the real catalog service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const ADD = 'mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { id status } } }';
const PRESENT = 'mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { id state reason } } }';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ realCatalog: true, now: '2026-11-20T09:00:00Z' });
});
afterAll(() => h?.close());

async function postpaidLine(msisdn: string): Promise<string> {
  const c = await h.ok('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name: `Owner ${msisdn}`, kind: 'INDIVIDUAL' } });
  const a = await h.ok('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
  const l = await h.ok('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn, planCode: 'POSTPAID_20GB' } });
  return l.addLine.line.id;
}

describe('a retired add-on offer', () => {
  it('is refused by addAddOn and withdrawn as an upsell; one bought before stays active', async () => {
    const bought = await postpaidLine('+491701119901');
    const other = await postpaidLine('+491701119902');
    const before = (await h.ok(ADD, { i: { lineId: bought, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'retired-offer-bought-1' } })).addAddOn.order;
    expect(before.status).toBe('COMPLETED');

    const retired = await h.catalog!.request('mutation { retireOffer(input: { code: "DATA_BOOST_5GB", reason: "Replaced by the 10 GB boost" }) { offer { status } } }', {}, ADMIN);
    expect(retired.data?.retireOffer.offer.status).toBe('RETIRED');

    const refused = await h.subscribers.request<any>(ADD, { i: { lineId: other, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'retired-offer-refused-1' } });
    const upsell = (await h.ok(PRESENT, { i: { lineId: other, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    const stillOther = (await h.ok(ADD, { i: { lineId: other, offerCode: 'ROAM_WORLD_PASS_7D', idempotencyKey: 'retired-offer-other-1' } })).addAddOn.order;
    const addOns = (await h.rows<{ add_ons: string }>(`select add_ons from subscription where line_id = $1 and status = 'ACTIVE'`, [bought]))[0]!.add_ons;
    expect({
      refused: refused.errors?.[0]?.extensions,
      orders: (await h.rows<{ n: number }>(`select count(*)::int as n from product_order where line_id = $1 and kind = 'ADD_ON'`, [other]))[0]!.n,
      upsell: { state: upsell.state, reason: upsell.reason },
      anotherOffer: stillOther.status,
      boughtBefore: (JSON.parse(addOns) as { code: string }[]).map((a) => a.code),
    }).toEqual({
      refused: expect.objectContaining({ code: 'CONFLICT', reason: 'OFFER_RETIRED', field: 'input.offerCode' }),
      orders: 1, // the roaming pass only
      upsell: { state: 'WITHDRAWN', reason: 'DATA_BOOST_5GB is no longer sold' },
      anotherOffer: 'COMPLETED',
      boughtBefore: ['DATA_BOOST_5GB'],
    });
  });

  it('an offer presented before the add-on was retired is withdrawn at its reminder, not reminded', async () => {
    const line = await postpaidLine('+491701119903');
    const offer = (await h.ok(PRESENT, { i: { lineId: line, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-11', rule: 'roaming-upsell', validForHours: 48 } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    const retired = await h.catalog!.request('mutation { retireOffer(input: { code: "ROAM_WORLD_PASS_7D", reason: "Replaced by the 14-day pass" }) { offer { status } } }', {}, ADMIN);
    expect(retired.data?.retireOffer.offer.status).toBe('RETIRED');
    const reminded = (await h.ok('mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { offer { state reason } } }', { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    const reminders = await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`, [line]);
    expect({ ...reminded, reminders: reminders[0]!.n }).toEqual({ state: 'WITHDRAWN', reason: 'ROAM_WORLD_PASS_7D is no longer sold', reminders: 0 });
  });
});
