import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsellOfferId } from '../src/application/upsell';
import { startHarness, type Harness } from './support';

/**
 * An upsell offer is about the allowance period whose usage triggered it; usage's trigger
 * (`usageOfferTriggered`) carries that period's name, start and end, and the workflow hands them
 * to `presentUpsellOffer`.
 *
 * - The period over by presentation: usage emits an offer only while its period runs, but the
 *   workflow retries presenting through a subscribers outage of up to 6 hours, so a trigger of the
 *   period's last hours was presented in the next period, where an add-on bought does nothing for
 *   the period that called for it. Now such an offer is WITHDRAWN with the reason, nobody told.
 * - Keyed by the period's start: the offer id (and the workflow id) came from the period's name,
 *   while usage emits once per period *start*. A period named by its first day whose end was not
 *   known yet (a late renewal restarting the periods that same day) shares its name with the
 *   period after the restart: that period's own offer was answered with the first one (the same
 *   id) and never made. Now the id is derived from the start instant when the trigger gives it;
 *   a trigger without it (a workflow started before) keeps the name's id, and an offer presented
 *   under the name's id in the same period is the same offer.
 */
let h: Harness;
let n = 0;

const OFFER = `offer { id state reason period expiresAt }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RULE = 'offer-data-boost-at-80';

async function newLine(): Promise<string> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Period Bounds ${n}`, kind: 'INDIVIDUAL' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } });
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+4917012399${String(n).padStart(2, '0')}`, planCode: 'POSTPAID_20GB' } });
  return l.addLine.line.id as string;
}

const told = async (lineId: string) => (await h.rows<{ n: number }>(`select count(*)::int n from communication_message where line_id = $1 and template = 'UPSELL_OFFER'`, [lineId]))[0]!.n;
const stateEvents = async (offerId: string) =>
  (await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.upselloffer.statechanged' and payload like $1 order by seq`, [`%"${offerId}"%`])).map((r) => {
    const d = JSON.parse(r.payload).data;
    return `${d.state}${d.reason ? `: ${d.reason}` : ''}`;
  });

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
});
afterAll(() => h?.close());

describe('an upsell offer whose allowance period ended before it was presented', () => {
  it('is WITHDRAWN with the reason, the customer not told; one whose period still runs is presented', async () => {
    const lineId = await newLine();
    // Triggered on 20 November 07:50 in the period that ended at 08:00; presented at 09:00 after an outage.
    const late = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-10-20', periodStart: '2026-10-20T08:00:00Z', periodEnd: '2026-11-20T08:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    expect(late).toMatchObject({ state: 'WITHDRAWN', reason: 'its allowance period 2026-10-20 ended at 2026-11-20T08:00:00.000Z', period: '2026-10-20' });
    expect(await told(lineId)).toBe(0);
    expect(await stateEvents(late.id)).toEqual(['WITHDRAWN: its allowance period 2026-10-20 ended at 2026-11-20T08:00:00.000Z']);
    // The same trigger again (an activity retried) is the same answer.
    expect((await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-10-20', periodStart: '2026-10-20T08:00:00Z', periodEnd: '2026-11-20T08:00:00Z', rule: RULE } })).presentUpsellOffer.offer).toEqual(late);

    // The period that began at 08:00 runs: its offer is made.
    const running = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', periodStart: '2026-11-20T08:00:00Z', periodEnd: '2026-12-20T08:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    expect(running).toMatchObject({ state: 'PRESENTED', reason: null });
    expect(await told(lineId)).toBe(1);
  });
});

describe('upsell offers are keyed by their allowance period\'s start', () => {
  it('two periods sharing a name (the first one cut that day after its offer) get an offer each', async () => {
    h.clock.set('2026-11-20T09:00:00Z');
    const lineId = await newLine();
    // Usage named the period that began at 06:00 by its day, its end not known yet (12:00 the same day, a late renewal's restart).
    const first = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', periodStart: '2026-11-20T06:00:00Z', periodEnd: '2026-12-20T06:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    h.clock.set('2026-11-20T13:00:00Z');
    // The period after the restart keeps the day's name; usage emits its own trigger (keyed by its start).
    const second = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', periodStart: '2026-11-20T12:00:00Z', periodEnd: '2026-12-20T12:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    expect({ first: first.state, second: second.state, distinct: second.id !== first.id, told: await told(lineId) }).toEqual({ first: 'PRESENTED', second: 'PRESENTED', distinct: true, told: 2 });
    expect([first.id, second.id]).toEqual([upsellOfferId(lineId, '2026-11-20T06:00:00.000Z', 'DATA_BOOST_5GB'), upsellOfferId(lineId, '2026-11-20T12:00:00.000Z', 'DATA_BOOST_5GB')]);
  });

  it('a trigger without the start (a workflow started before) keeps the id of the name; the same period\'s trigger with it finds that offer', async () => {
    h.clock.set('2026-11-20T09:00:00Z');
    const lineId = await newLine();
    const legacy = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', rule: RULE } })).presentUpsellOffer.offer;
    expect(legacy).toMatchObject({ id: upsellOfferId(lineId, '2026-11-20', 'DATA_BOOST_5GB'), state: 'PRESENTED' });
    // The same event delivered again to a worker that now passes the start: the same offer, told once.
    h.clock.set('2026-11-20T09:05:00Z');
    const again = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', periodStart: '2026-11-20T06:00:00Z', periodEnd: '2026-12-20T06:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    expect(again).toEqual(legacy);
    expect(await told(lineId)).toBe(1);
    // A later period of that name (it began after the old offer was made) is offered anew.
    h.clock.set('2026-11-20T13:00:00Z');
    const next = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', periodStart: '2026-11-20T12:00:00Z', periodEnd: '2026-12-20T12:00:00Z', rule: RULE } })).presentUpsellOffer.offer;
    expect(next).toMatchObject({ id: upsellOfferId(lineId, '2026-11-20T12:00:00.000Z', 'DATA_BOOST_5GB'), state: 'PRESENTED' });
    expect(await told(lineId)).toBe(2);
  });
});
