import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_FIELDS, planDocument, startHarness, type FileCatalog, type Harness } from './support';

/**
 * An offer's withdrawal reason is stored in upsell_offer.reason, varchar(200). The reasons built by
 * `presentUpsellOffer` and the reminder (`notSellableNow`) were not cut to it: with an add-on code
 * and a plan code of 64 characters each (what the catalog accepts), "<add-on> cannot be held on
 * <plan>, which the line changes to on <instant>" is 202 characters, and presenting / reminding
 * failed INTERNAL_SERVER_ERROR (the trigger retried without end). Every reason is now cut to 200.
 * Line: Europe/Berlin, bill cycle day 1, so a downgrade from 16 November starts 2026-11-30T23:00Z.
 */
let h: Harness;
const LONG_OFFER = `BOOST_${'X'.repeat(58)}`;
const LONG_PLAN = `PLAN_${'Y'.repeat(59)}`;
const START = '2026-11-30T23:00:00.000Z';

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
  const catalog = h.catalogClient as FileCatalog;
  // A plan and an add-on with 64-character codes: POSTPAID_20GB and DATA_BOOST_5GB renamed.
  const document = { ...(planDocument('postpaid-20gb') as Record<string, unknown>), code: LONG_PLAN };
  catalog.plans.set(LONG_PLAN, { planId: 'pln_long', code: LONG_PLAN, planStatus: 'PUBLISHED', paymentMode: 'POSTPAID', currency: 'EUR', versionId: 'plv_long_1', version: 1, document });
  const offer = catalog.offer.bind(catalog);
  catalog.offer = async (code: string) => (code === LONG_OFFER ? { ...(await offer('DATA_BOOST_5GB'))!, code: LONG_OFFER, compatiblePlans: ['FAMILY_SHARE_50GB'] } : offer(code));
});
afterEach(() => {
  h.clock.set('2026-11-16T10:00:00Z');
});
afterAll(async () => {
  await h?.close();
});

const OFFER = `offer { id state reason }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const REASON = `${LONG_OFFER} cannot be held on ${LONG_PLAN}, which the line changes to on ${START}`;

let n = 0;
async function newLine(): Promise<string> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Long Reason ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239941${String(n).padStart(2, '0')}`, planCode: 'FAMILY_SHARE_50GB' } });
  return line.addLine.line.id as string;
}

async function downgradeToLongPlan(lineId: string): Promise<void> {
  const changed = (await h.ok(CHANGE, { i: { lineId, planCode: LONG_PLAN } })).changePlan;
  expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: START });
}

describe('an upsell withdrawal reason longer than its column', () => {
  it('is cut to 200 characters when presenting withdraws the offer', async () => {
    expect(REASON.length).toBeGreaterThan(200);
    const lineId = await newLine();
    h.clock.set('2026-11-20T10:00:00Z');
    await downgradeToLongPlan(lineId);
    const r = await h.subscribers.request<any>(PRESENT, { i: { lineId, offerCode: LONG_OFFER, period: '2026-11-16', rule: 'offer-data-boost-at-80' } });
    expect(r.errors).toBeUndefined();
    expect(r.data.presentUpsellOffer.offer).toMatchObject({ state: 'WITHDRAWN', reason: REASON.slice(0, 200) });
  });

  it('is cut to 200 characters when the reminder withdraws the offer', async () => {
    const lineId = await newLine();
    h.clock.set('2026-11-20T10:00:00Z');
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: LONG_OFFER, period: '2026-11-16', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    h.clock.set('2026-11-21T10:00:00Z');
    await downgradeToLongPlan(lineId);
    h.clock.set('2026-11-22T10:00:00Z');
    const r = await h.subscribers.request<any>(REMIND, { i: { offerId: offer.id } });
    expect(r.errors).toBeUndefined();
    expect(r.data.remindUpsellOffer.offer).toMatchObject({ state: 'WITHDRAWN', reason: REASON.slice(0, 200) });
  });
});
