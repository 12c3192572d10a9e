import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import { activateDueSubscriptions } from '../src/application/activate-due-subscriptions';
import { ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';

/**
 * Add-ons and plan changes (review 18, fixed 2026-11-28): the new plan holds every add-on still valid
 * when it starts, with its own dates, whether bought before the change was scheduled, while it waited,
 * or while it waited on a subscription scheduled before the fix (running data); a plan that cannot
 * hold one (the offer's compatiblePlans) is refused as the target of a change while it is valid, and
 * such an add-on is not sold (nor offered as an upsell) while a change to that plan waits, if it would
 * still be valid then.
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

/** The catalog sells `codes` only with `plans` from now on (the test's catalog, in memory). */
function restrictOffers(codes: string[], plans: string[]): void {
  unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(codes, plans);
}

const gql = (q: string, v: Record<string, unknown>) => h.ok(q, v);
const ADD = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing effectiveAt } }`;
const sweep = (at: string) => h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as never, new Date(at)));
const START = '2026-11-30T23:00:00.000Z';

let n = 0;
async function newLine(planCode = 'FAMILY_SHARE_50GB'): Promise<string> {
  n += 1;
  const c = await gql(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Addon Carry ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await gql(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await gql(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239902${String(n).padStart(2, '0')}`, planCode } });
  return line.addLine.line.id as string;
}

async function buy(lineId: string, offerCode: string): Promise<void> {
  const r = await gql(ADD, { i: { lineId, offerCode } });
  expect(r.addAddOn.order.status).toBe('COMPLETED');
}

async function addOnsOf(lineId: string, status: string): Promise<unknown[]> {
  const rows = await h.rows<{ add_ons: string }>(`select add_ons from subscription where line_id = $1 and status = $2 order by starts_at desc`, [lineId, status]);
  return JSON.parse(rows[0]!.add_ons);
}

async function subscriptionEvents(subscriptionId: string): Promise<{ status: string; addOns: unknown[] }[]> {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [EVENTS.subscriptionChanged.subject, `%${subscriptionId}%`]);
  return rows.map((r) => (JSON.parse(r.payload) as { data: { status: string; addOns: unknown[] } }).data);
}

const BOOST = { code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z' };
const PASS = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-27T10:00:00.000Z', endsAt: '2026-12-04T10:00:00.000Z' };

describe('add-ons carried to the plan a change starts', () => {
  it('bought before the change and while it waits: the new plan holds both, once, even on a subscription scheduled before the fix', async () => {
    const lineId = await newLine();
    await buy(lineId, 'DATA_BOOST_5GB');
    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan;
    expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: START });
    expect(await addOnsOf(lineId, 'SCHEDULED')).toEqual([BOOST]);

    // 27 November: a 7-day pass, still valid when the new plan starts: the waiting plan holds it at once.
    h.clock.set('2026-11-27T10:00:00Z');
    await buy(lineId, 'ROAM_WORLD_PASS_7D');
    const [scheduled] = await h.rows<{ id: string }>(`select id from subscription where line_id = $1 and status = 'SCHEDULED'`, [lineId]);
    expect(await addOnsOf(lineId, 'SCHEDULED')).toEqual([BOOST, PASS]);
    expect((await subscriptionEvents(scheduled!.id)).at(-1)).toMatchObject({ status: 'SCHEDULED', addOns: [BOOST, PASS] });

    // Running data: what the code before the fix left (the pass only on the plan that ends).
    await h.rows(`update subscription set add_ons = $2 where id = $1`, [scheduled!.id, JSON.stringify([BOOST])]);

    // The new plan starts: two sweeps at once, then a repeated one.
    h.clock.set('2026-12-01T00:00:00Z');
    await Promise.all([sweep('2026-12-01T00:00:00Z'), sweep('2026-12-01T00:00:00Z')]);
    await sweep('2026-12-01T00:05:00Z');
    expect(await addOnsOf(lineId, 'ACTIVE')).toEqual([BOOST, PASS]);
    const started = (await subscriptionEvents(scheduled!.id)).filter((e) => e.status === 'ACTIVE');
    expect(started).toEqual([expect.objectContaining({ addOns: [BOOST, PASS] })]);
    const line = await gql(`query($id: ID!) { line(id: $id) { planCode subscription { addOns { code startsAt endsAt } } } }`, { id: lineId });
    expect(line.line).toEqual({ planCode: 'POSTPAID_20GB', subscription: { addOns: [BOOST, PASS] } });

    // Neither is sold again while valid; each was charged once.
    for (const offerCode of ['DATA_BOOST_5GB', 'ROAM_WORLD_PASS_7D']) {
      const again = await h.subscribers.request<any>(ADD, { i: { lineId, offerCode } });
      expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_ALREADY_ACTIVE' });
    }
    expect(await h.rows(`select amount::text from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [lineId])).toHaveLength(2);
  });

  it('an add-on that ends before the new plan starts is sold and not carried', async () => {
    const lineId = await newLine();
    await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } });
    h.clock.set('2026-11-20T10:00:00Z');
    await buy(lineId, 'ROAM_WORLD_PASS_7D');
    expect(await addOnsOf(lineId, 'SCHEDULED')).toEqual([]);
    await sweep('2026-12-01T00:00:00Z');
    expect(await addOnsOf(lineId, 'ACTIVE')).toEqual([]);
    expect(await addOnsOf(lineId, 'ENDED')).toEqual([{ code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-20T10:00:00.000Z', endsAt: '2026-11-27T10:00:00.000Z' }]);
  });

  it('an immediate change carries the add-ons too', async () => {
    const lineId = await newLine('POSTPAID_20GB');
    await buy(lineId, 'DATA_BOOST_5GB');
    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'FAMILY_SHARE_50GB' } })).changePlan;
    expect(changed.preview.timing).toBe('IMMEDIATE');
    expect(await addOnsOf(lineId, 'ACTIVE')).toEqual([BOOST]);
  });
});

describe('add-ons the new plan cannot hold', () => {
  it('a change onto a plan that cannot hold a valid add-on is refused until the add-on has ended; nothing is written', async () => {
    const lineId = await newLine();
    await buy(lineId, 'DATA_BOOST_5GB');
    restrictOffers(['DATA_BOOST_5GB'], ['FAMILY_SHARE_50GB']);
    const before = await h.counts();
    for (const q of [PREVIEW, CHANGE]) {
      const r = await h.subscribers.request<any>(q, { i: { lineId, planCode: 'POSTPAID_20GB' } });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_CHANGE_ADDON_INCOMPATIBLE', field: 'input.planCode', offerCode: 'DATA_BOOST_5GB', addOnEndsAt: BOOST.endsAt });
    }
    expect(await h.counts()).toEqual(before);
    expect(await addOnsOf(lineId, 'ACTIVE')).toEqual([BOOST]);

    // Once the boost has ended (16 December), the change goes through (at the next cycle end).
    h.clock.set('2026-12-16T10:00:00Z');
    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan;
    expect(changed.order.status).toBe('COMPLETED');
    expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: '2026-12-31T23:00:00.000Z' });
  });

  it('while a change waits, an add-on its plan cannot hold is not sold if still valid when it starts; one ending before is', async () => {
    const lineId = await newLine();
    await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } });
    restrictOffers(['DATA_BOOST_5GB', 'ROAM_WORLD_PASS_7D'], ['FAMILY_SHARE_50GB']);
    h.clock.set('2026-11-20T10:00:00Z');
    const before = await h.counts();
    const refused = await h.subscribers.request<any>(ADD, { i: { lineId, offerCode: 'DATA_BOOST_5GB' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_NOT_COMPATIBLE', field: 'input.offerCode', scheduledPlanCode: 'POSTPAID_20GB' });
    expect(await h.counts()).toEqual(before);
    // Nor offered as an upsell: withdrawn with the reason, the customer not told.
    const upsell = await gql(`mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { state reason } } }`, {
      i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' },
    });
    expect(upsell.presentUpsellOffer.offer).toEqual({ state: 'WITHDRAWN', reason: `DATA_BOOST_5GB cannot be held on POSTPAID_20GB, which the line changes to on ${START}` });

    // A 7-day pass bought on 20 November ends on the 27th, before the new plan starts: sold, kept off it.
    await buy(lineId, 'ROAM_WORLD_PASS_7D');
    expect(await addOnsOf(lineId, 'SCHEDULED')).toEqual([]);
    await sweep('2026-12-01T00:00:00Z');
    expect(await addOnsOf(lineId, 'ACTIVE')).toEqual([]);
  });
});
