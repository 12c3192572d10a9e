import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';

/**
 * The upsell reminder ("last chance") withdraws an offer accepting would refuse. A plan change
 * scheduled after the offer was presented, onto a plan that cannot hold the add-on, was not
 * checked: the customer was reminded, and accepting was then refused OFFER_NOT_COMPATIBLE
 * (`scheduledPlanCode`), as `addAddOn` does not sell an add-on that would still be valid when such
 * a change starts (it would be cut short, paid for). The reminder now withdraws it with
 * presenting's reason. An add-on that would end before the change starts is still sold, so that
 * offer is still reminded.
 * Line: Europe/Berlin, bill cycle day 1, so a downgrade from 16 November starts 2026-11-30T23:00Z.
 */
let h: Harness;
let unrestrict = (): void => {};
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterEach(() => {
  unrestrict();
  h.clock.set('2026-11-16T10:00:00Z');
});
afterAll(async () => {
  await h?.close();
});

const OFFER = `offer { id state reason }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const START = '2026-11-30T23:00:00.000Z';

let n = 0;
async function newLine(): Promise<string> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Reminder Change ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239931${String(n).padStart(2, '0')}`, planCode: 'FAMILY_SHARE_50GB' } });
  return line.addLine.line.id as string;
}

const reminders = async (lineId: string) => (await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`, [lineId]))[0]!.n;

describe('upsell reminder after a plan change was scheduled that cannot hold the add-on', () => {
  it('withdraws an offer whose add-on would still be valid when the change starts', async () => {
    const lineId = await newLine();
    // Presented on 20 November: a 30-day boost, sold with the line's plan.
    h.clock.set('2026-11-20T10:00:00Z');
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-16', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    // The next day the customer schedules a downgrade (from 1 December) to a plan that cannot hold the boost.
    h.clock.set('2026-11-21T10:00:00Z');
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['FAMILY_SHARE_50GB']);
    const changed = (await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan;
    expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: START });

    h.clock.set('2026-11-22T10:00:00Z');
    const reminded = (await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    expect({ state: reminded.state, reason: reminded.reason, reminders: await reminders(lineId) }).toEqual({
      state: 'WITHDRAWN',
      reason: `DATA_BOOST_5GB cannot be held on POSTPAID_20GB, which the line changes to on ${START}`,
      reminders: 0,
    });
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });

  it('reminds of an offer whose add-on would end before the change starts (accepting still sells it)', async () => {
    const lineId = await newLine();
    h.clock.set('2026-11-20T10:00:00Z');
    // A 7-day pass accepted on the 22nd ends on the 29th, before the new plan starts.
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', period: '2026-11-16', rule: 'offer-roaming' } })).presentUpsellOffer.offer;
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['ROAM_WORLD_PASS_7D'], ['FAMILY_SHARE_50GB']);
    await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } });
    h.clock.set('2026-11-22T10:00:00Z');
    const reminded = (await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    expect({ state: reminded.state, reason: reminded.reason, reminders: await reminders(lineId) }).toEqual({ state: 'PRESENTED', reason: null, reminders: 1 });
    expect((await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } })).respondToUpsellOffer.offer.state).toBe('ACCEPTED');
  });
});
