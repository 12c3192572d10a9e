import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

/**
 * An upsell offer is for the allowance period whose usage triggered it ("5 GB more for this
 * month"). Presenting already withdrew an offer whose period was over before it could be made
 * (f00802b), but the offer did not keep the period's end: one presented 23 hours before its
 * period ended stayed open its full 72 hours, was reminded a day after the period had ended and
 * could be accepted then, the customer buying an add-on for a period that was over (or one that
 * lands in the next period, not what was offered).
 *
 * Now the offer stores the period's end (`period_end`, Migration20270124000000) and closes at
 * whichever comes first, its deadline or that end (`expiresAt`, which the workflow sleeps to and
 * the messages name); accepting after the period's end is refused OFFER_NOT_OPEN (as an expired
 * offer is) saying the period ended. An offer presented without the period's end (a workflow
 * started before it was passed on, or stored before the column) works as before.
 */
let h: Harness;
let n = 0;

const OFFER = `offer { id state reason period expiresAt }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status } } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const CLOSE = `mutation($i: UpsellOfferRefInput!) { closeUpsellOffer(input: $i) { ${OFFER} } }`;
const RULE = 'offer-data-boost-at-80';

async function newLine(): Promise<{ lineId: string; owner: Caller }> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Period End ${n}`, kind: 'INDIVIDUAL' } });
  const customerId = c.createCustomer.customer.id as string;
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+4917012388${String(n).padStart(2, '0')}`, planCode: 'POSTPAID_20GB' } });
  return { lineId: l.addLine.line.id as string, owner: { role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] } };
}

const count = async (lineId: string, sql: string) => (await h.rows<{ n: number }>(`select count(*)::int n from ${sql}`, [lineId]))[0]!.n;
const reminders = (lineId: string) => count(lineId, `communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`);
const addOnOrders = (lineId: string) => count(lineId, `product_order where line_id = $1 and kind = 'ADD_ON'`);

/** Presented on 20 November 09:00 for the period 20 October 08:00 – `periodEnd`, 72 hours to accept. */
async function present(lineId: string, periodEnd: string) {
  h.clock.set('2026-11-20T09:00:00Z');
  return (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-10-20', periodStart: '2026-10-20T08:00:00Z', periodEnd, rule: RULE } })).presentUpsellOffer.offer;
}

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
});
afterAll(() => h?.close());

describe('an upsell offer whose allowance period ends before its deadline', () => {
  it('is refused OFFER_NOT_OPEN when accepted after the period ended, saying so; no add-on is ordered', async () => {
    const { lineId, owner } = await newLine();
    const offer = await present(lineId, '2026-11-21T08:00:00Z');
    expect(offer).toMatchObject({ state: 'PRESENTED', reason: null });

    // An hour after the period ended, two days before the 72 hours were up.
    h.clock.set('2026-11-21T09:00:00Z');
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
    expect({ data: late.data?.respondToUpsellOffer ?? null, orders: await addOnOrders(lineId) }).toEqual({ data: null, orders: 0 });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN', field: 'input.offerId', periodEnd: '2026-11-21T08:00:00.000Z' });
    expect(late.errors?.[0]?.message).toBe(`Offer ${offer.id} was for the allowance period 2026-10-20, which ended at 2026-11-21T08:00:00.000Z`);
    // A decline is refused the same way (the offer is over), and the offer closes.
    const decline = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: false } }, owner);
    expect(decline.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
    expect((await h.ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('EXPIRED');
  });

  it('is accepted up to the period end', async () => {
    const { lineId, owner } = await newLine();
    const offer = await present(lineId, '2026-11-21T08:00:00Z');
    h.clock.set('2026-11-21T07:59:00Z');
    const accepted = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    expect({ state: accepted.offer.state, order: accepted.order.status, orders: await addOnOrders(lineId) }).toEqual({ state: 'ACCEPTED', order: 'COMPLETED', orders: 1 });
  });

  it('is not reminded after the period ended (the workflow reminds 24 h before the end it is given)', async () => {
    const { lineId } = await newLine();
    // The period ends 27 hours after presentation: a reminder 24 h before the 72-hour deadline would fall a day after it.
    const offer = await present(lineId, '2026-11-21T12:00:00Z');
    h.clock.set('2026-11-22T09:00:00Z');
    const reminded = (await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    expect({ state: reminded.state, reminders: await reminders(lineId) }).toEqual({ state: 'PRESENTED', reminders: 0 });
    expect((await h.ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('EXPIRED');
  });

  it('ends with its period: expiresAt is the period end when that comes first (the workflow sleeps to it), and the offer shows the period end', async () => {
    const { lineId } = await newLine();
    const offer = await present(lineId, '2026-11-21T12:00:00Z');
    expect(offer.expiresAt).toBe('2026-11-21T12:00:00.000Z');
    const shown = await h.ok(`query($id: ID!) { line(id: $id) { offers { id expiresAt periodEnd } } }`, { id: lineId });
    expect(shown.line.offers).toEqual([{ id: offer.id, expiresAt: '2026-11-21T12:00:00.000Z', periodEnd: '2026-11-21T12:00:00.000Z' }]);
    // The offer's message names that end.
    const told = await h.rows<{ content: string }>(`select content from communication_message where line_id = $1 and template = 'UPSELL_OFFER'`, [lineId]);
    expect(told.map((m) => m.content.includes('2026-11-21 12:00 UTC'))).toEqual([true]);
    // Not yet due an hour before; closed at the end.
    h.clock.set('2026-11-21T11:00:00Z');
    expect((await h.ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('PRESENTED');
    h.clock.set('2026-11-21T12:00:00Z');
    expect((await h.ok(CLOSE, { i: { offerId: offer.id } })).closeUpsellOffer.offer.state).toBe('EXPIRED');
  });
});

describe('an upsell offer whose deadline comes before its period ends, or without a period end', () => {
  it('keeps its deadline; one presented without the period end (a run started before) works as before', async () => {
    const { lineId, owner } = await newLine();
    const offer = await present(lineId, '2026-12-20T08:00:00Z');
    expect(offer.expiresAt).toBe('2026-11-23T09:00:00.000Z');
    const shown = await h.ok(`query($id: ID!) { line(id: $id) { offers { periodEnd } } }`, { id: lineId });
    expect(shown.line.offers).toEqual([{ periodEnd: '2026-12-20T08:00:00.000Z' }]);

    const legacy = await newLine();
    h.clock.set('2026-11-20T09:00:00Z');
    const old = (await h.ok(PRESENT, { i: { lineId: legacy.lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-10-20', rule: RULE } })).presentUpsellOffer.offer;
    expect(old).toMatchObject({ state: 'PRESENTED', expiresAt: '2026-11-23T09:00:00.000Z' });
    expect((await h.ok(`query($id: ID!) { line(id: $id) { offers { periodEnd } } }`, { id: legacy.lineId })).line.offers).toEqual([{ periodEnd: null }]);
    // Reminded and accepted on its deadline's terms, whatever the period's name.
    h.clock.set('2026-11-22T09:00:00Z');
    await h.ok(REMIND, { i: { offerId: old.id } });
    expect(await reminders(legacy.lineId)).toBe(1);
    expect((await h.ok(RESPOND, { i: { offerId: old.id, accept: true } }, legacy.owner)).respondToUpsellOffer.offer.state).toBe('ACCEPTED');
    // The first one too, two days in.
    expect((await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer.offer.state).toBe('ACCEPTED');
  });
});
