import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { activateDueSubscriptions } from '../src/application/activate-due-subscriptions';
import { startHarness, type Harness } from './support';

/**
 * An upsell offer is for the allowance period whose usage triggered it and ends with that period
 * (`period_end`, 60d8c40). But the end kept is the one usage announced when the trigger fired: a
 * plan change later starts a new subscription with a fresh bundle from its `effectiveAt` (usage and
 * wallets restart the line's periods there), so the period the offer was made for is over as far as
 * the line is concerned, while the offer stayed open to the old end: the customer could accept "5 GB
 * more for this month" after the month ended (the add-on landing on the new plan's fresh bundle).
 *
 * Now, in the transaction that ends the line's subscription (an IMMEDIATE change completing, an
 * END_OF_CYCLE change falling due: the sweep or any request on the line that starts it, a
 * termination), the line's open offers presented under it are WITHDRAWN with the reason (the
 * customer not told; the state event written), and `respondToUpsellOffer` refuses an offer whose
 * line's plan ended after it was presented (OFFER_NOT_OPEN), also before the sweep has run.
 * Changes that do not touch the subscription (autopay, credit limit) withdraw nothing.
 * Line: Europe/Berlin, bill cycle day 1: a downgrade placed in November starts 2026-11-30T23:00Z.
 */
let h: Harness;
let n = 0;

const OFFER = `offer { id state reason }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status } } }`;
const REMIND = `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${OFFER} } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { id status } preview { timing effectiveAt } } }`;
const UPDATE = `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { changed } }`;
const BOUNDARY = '2026-11-30T23:00:00.000Z';

const tx = <T>(work: (em: Em) => Promise<T>) => h.subscribers.runtime.orm.em.fork().transactional((em) => work(em as Em));
const sweep = (at: string) => tx((em) => activateDueSubscriptions(em, new Date(at)));

async function newLine(planCode: string): Promise<{ lineId: string; accountId: string; owner: Caller }> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: `Plan Ended ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' },
  });
  const customerId = c.createCustomer.customer.id as string;
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const accountId = a.openBillingAccount.billingAccount.id as string;
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, {
    i: { billingAccountId: accountId, msisdn: `+49151239977${String(n).padStart(2, '0')}`, planCode },
  });
  return { lineId: l.addLine.line.id as string, accountId, owner: { role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] } };
}

/** Presented (on 20 November 10:00 unless said) for the period 16 November – 16 December (its end still to come), 72 hours to accept. */
async function present(lineId: string, at = '2026-11-20T10:00:00Z'): Promise<{ id: string; state: string }> {
  h.clock.set(at);
  const offer = (
    await h.ok(PRESENT, {
      i: {
        lineId,
        offerCode: 'DATA_BOOST_5GB',
        period: '2026-11-16',
        periodStart: '2026-11-16T10:00:00Z',
        periodEnd: '2026-12-16T10:00:00Z',
        rule: 'offer-data-boost-at-80',
      },
    })
  ).presentUpsellOffer.offer;
  expect(offer.state).toBe('PRESENTED');
  return offer;
}

const count = async (lineId: string, sql: string) => (await h.rows<{ n: number }>(`select count(*)::int n from ${sql}`, [lineId]))[0]!.n;
const addOnOrders = (lineId: string) => count(lineId, `product_order where line_id = $1 and kind = 'ADD_ON'`);
const upsellMessages = (lineId: string) => count(lineId, `communication_message where line_id = $1 and template like 'UPSELL%'`);
/** The offer's announced states (billing.subscribers.upselloffer.statechanged), in order. */
const announced = async (offerId: string) =>
  (
    await h.rows<{ payload: string }>(
      `select payload from outbox where subject = 'billing.subscribers.upselloffer.statechanged' and payload like $1 order by seq`,
      [`%"${offerId}"%`],
    )
  ).map((r) => {
    const d = JSON.parse(r.payload).data;
    return { state: d.state, reason: d.reason };
  });
const stored = async (offerId: string) =>
  (await h.rows<{ state: string; reason: string | null }>(`select state, reason from upsell_offer where id = $1`, [offerId]))[0];

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterEach(() => h.clock.set('2026-11-16T10:00:00Z'));
afterAll(() => h?.close());

describe('an upsell offer presented before the line’s plan changed', () => {
  it('an IMMEDIATE change withdraws it in the same transaction (state event, customer not told); accepting it is refused OFFER_NOT_OPEN', async () => {
    const { lineId, owner } = await newLine('POSTPAID_20GB');
    const offer = await present(lineId);
    const told = await upsellMessages(lineId);

    h.clock.set('2026-11-21T10:00:00Z');
    const changed = (await h.ok(CHANGE, { i: { lineId, planCode: 'FAMILY_SHARE_50GB' } }, owner)).changePlan;
    expect({ timing: changed.preview.timing, status: changed.order.status }).toEqual({ timing: 'IMMEDIATE', status: 'COMPLETED' });
    const reason = 'its allowance period 2026-11-16 ended at 2026-11-21T10:00:00.000Z, when plan POSTPAID_20GB ended';
    expect(await stored(offer.id)).toEqual({ state: 'WITHDRAWN', reason });
    expect(await announced(offer.id)).toEqual([
      { state: 'PRESENTED', reason: null },
      { state: 'WITHDRAWN', reason },
    ]);
    expect(await upsellMessages(lineId)).toBe(told);

    h.clock.set('2026-11-21T11:00:00Z');
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
    expect({ data: late.data?.respondToUpsellOffer ?? null, orders: await addOnOrders(lineId) }).toEqual({ data: null, orders: 0 });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN', field: 'input.offerId', state: 'WITHDRAWN' });
    expect(late.errors?.[0]?.message).toBe(`Offer ${offer.id} is WITHDRAWN: ${reason}`);
  });

  it('an END_OF_CYCLE change: open until it falls due; then accepting is refused before any sweep, and the sweep withdraws it', async () => {
    const { lineId, owner } = await newLine('FAMILY_SHARE_50GB');
    // Presented on the 29th (open until 2 December 10:00), after the downgrade was scheduled on the 21st.
    h.clock.set('2026-11-21T10:00:00Z');
    const changed = (await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } }, owner)).changePlan;
    expect(changed.preview).toEqual({ timing: 'END_OF_CYCLE', effectiveAt: BOUNDARY });
    const offer = await present(lineId, '2026-11-29T10:00:00Z');
    // Scheduled only: the plan it was made under is still in force.
    expect(await stored(offer.id)).toEqual({ state: 'PRESENTED', reason: null });

    // Half a minute after the boundary, before the sweep: the old plan has ended.
    h.clock.set('2026-11-30T23:00:30Z');
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
    expect({ data: late.data?.respondToUpsellOffer ?? null, orders: await addOnOrders(lineId) }).toEqual({ data: null, orders: 0 });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN', field: 'input.offerId', planEndedAt: BOUNDARY });
    expect(late.errors?.[0]?.message).toBe(`Offer ${offer.id} was for the allowance period 2026-11-16, which ended at ${BOUNDARY} with plan FAMILY_SHARE_50GB`);

    await sweep('2026-11-30T23:01:00Z');
    const reason = `its allowance period 2026-11-16 ended at ${BOUNDARY}, when plan FAMILY_SHARE_50GB ended`;
    expect(await stored(offer.id)).toEqual({ state: 'WITHDRAWN', reason });
    expect(await announced(offer.id)).toEqual([
      { state: 'PRESENTED', reason: null },
      { state: 'WITHDRAWN', reason },
    ]);
    // The reminder leaves it as it is.
    expect((await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer.state).toBe('WITHDRAWN');
  });

  it('a reminder due after the boundary, before the sweep, withdraws it instead (no "last chance")', async () => {
    const { lineId, owner } = await newLine('FAMILY_SHARE_50GB');
    h.clock.set('2026-11-21T10:00:00Z');
    await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } }, owner);
    const offer = await present(lineId, '2026-11-29T10:00:00Z');
    h.clock.set('2026-11-30T23:00:30Z');
    const reminded = (await h.ok(REMIND, { i: { offerId: offer.id } })).remindUpsellOffer.offer;
    expect(reminded).toMatchObject({ state: 'WITHDRAWN', reason: `its allowance period 2026-11-16 ended at ${BOUNDARY}, when plan FAMILY_SHARE_50GB ended` });
    expect(await count(lineId, `communication_message where line_id = $1 and template = 'UPSELL_REMINDER'`)).toBe(0);
  });

  it('an offer presented after the boundary (under the new plan) is not withdrawn when the sweep then ends the old plan', async () => {
    const { lineId, owner } = await newLine('FAMILY_SHARE_50GB');
    h.clock.set('2026-11-21T10:00:00Z');
    await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } }, owner);
    h.clock.set('2026-11-30T23:00:10Z');
    const offer = (
      await h.ok(PRESENT, {
        i: {
          lineId,
          offerCode: 'DATA_BOOST_5GB',
          period: '2026-11-30T23:00:00.000Z',
          periodStart: BOUNDARY,
          periodEnd: '2026-12-31T23:00:00Z',
          rule: 'offer-data-boost-at-80',
        },
      })
    ).presentUpsellOffer.offer;
    expect(offer.state).toBe('PRESENTED');
    await sweep('2026-11-30T23:01:00Z');
    expect(await stored(offer.id)).toEqual({ state: 'PRESENTED', reason: null });
    h.clock.set('2026-12-01T10:00:00Z');
    expect((await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer.offer.state).toBe('ACCEPTED');
  });

  it('a trigger of a period begun under the plan that has since ended, presented late (an outage), is WITHDRAWN', async () => {
    const { lineId, owner } = await newLine('POSTPAID_20GB');
    h.clock.set('2026-11-21T10:00:00Z');
    await h.ok(CHANGE, { i: { lineId, planCode: 'FAMILY_SHARE_50GB' } }, owner);
    h.clock.set('2026-11-21T12:00:00Z');
    const offer = (
      await h.ok(PRESENT, {
        i: {
          lineId,
          offerCode: 'DATA_BOOST_5GB',
          period: '2026-11-16',
          periodStart: '2026-11-16T10:00:00Z',
          periodEnd: '2026-12-16T10:00:00Z',
          rule: 'offer-data-boost-at-80',
        },
      })
    ).presentUpsellOffer.offer;
    expect(offer).toMatchObject({
      state: 'WITHDRAWN',
      reason: 'its allowance period 2026-11-16 ended at 2026-11-21T10:00:00.000Z, when plan POSTPAID_20GB ended',
    });
  });

  it('changes to the account that leave the subscription (autopay, credit limit) withdraw nothing', async () => {
    const { lineId, accountId, owner } = await newLine('POSTPAID_20GB');
    const offer = await present(lineId);
    h.clock.set('2026-11-21T10:00:00Z');
    expect((await h.ok(UPDATE, { i: { billingAccountId: accountId, autopayToken: 'tok_visa_4242' } })).updateBillingAccount.changed).toEqual(['autopay']);
    expect((await h.ok(UPDATE, { i: { billingAccountId: accountId, creditLimit: '500.00' } })).updateBillingAccount.changed).toEqual(['creditLimit']);
    await sweep('2026-11-21T10:01:00Z');
    expect(await stored(offer.id)).toEqual({ state: 'PRESENTED', reason: null });
    const accepted = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    expect({ state: accepted.offer.state, order: accepted.order.status }).toEqual({ state: 'ACCEPTED', order: 'COMPLETED' });
  });

  it('terminating the line withdraws it (line is TERMINATED)', async () => {
    const { lineId, owner } = await newLine('POSTPAID_20GB');
    const offer = await present(lineId);
    h.clock.set('2026-11-21T10:00:00Z');
    await h.ok(`mutation($i: LineChangeInput!) { terminateLine(input: $i) { order { id status } } }`, { i: { lineId } });
    expect(await stored(offer.id)).toEqual({ state: 'WITHDRAWN', reason: 'line is TERMINATED' });
    const late = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });
});
