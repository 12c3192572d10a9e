import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

/**
 * The period an offer trigger names is usage's allowance period name (`linePeriodAt`): its first
 * day ("2026-11-20"), or, for a period cut short on the day it began (a plan change or a late
 * renewal that same day), its start instant ("2026-11-20T08:00:00.000Z", 24 characters). Before,
 * `upsell_offer.period` held 16 characters: on PostgreSQL presenting such an offer failed
 * ("value too long"), the workflow retried it until it failed, and the offer was never made.
 */
let h: Harness;
let lineId = '';

const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { id state reason period expiresAt } } }`;

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Ines Instant', kind: 'INDIVIDUAL' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: '+491701234677', planCode: 'POSTPAID_20GB' } });
  lineId = l.addLine.line.id;
});
afterAll(() => h?.close());

describe('an upsell offer for a period named by its start instant', () => {
  it('is presented once and the customer is told, like one named by its day', async () => {
    const input = { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20T08:00:00.000Z', rule: 'offer-data-boost-at-80' };
    const res = await h.subscribers.request<any>(PRESENT, { i: input });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const offer = res.data.presentUpsellOffer.offer;
    expect(offer).toMatchObject({ state: 'PRESENTED', reason: null, period: '2026-11-20T08:00:00.000Z', expiresAt: '2026-11-23T09:00:00.000Z' });
    // The same trigger again (a redelivered event, a retried activity) is the same offer.
    expect((await h.ok(PRESENT, { i: input })).presentUpsellOffer.offer).toEqual(offer);
    const told = await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_OFFER'`, [lineId]);
    expect(told[0]!.n).toBe(1);
  });
});
