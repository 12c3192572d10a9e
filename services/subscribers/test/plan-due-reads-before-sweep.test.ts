import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { activateDueSubscriptions } from '../src/application/activate-due-subscriptions';
import { addAddOn } from '../src/application/add-add-on';
import { completeOrder, startOrder } from '../src/application/fulfil-order';
import { presentUpsellOffer, remindUpsellOffer } from '../src/application/upsell';
import { ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';

/**
 * An END_OF_CYCLE plan change is in force from the cycle boundary (commit 967b535: requests run the
 * sweep's step for the line first, `Line.planCode` / `subscription` read the rows as the sweep will
 * leave them), but the sweep writes it about 60 s later. The reads and decisions that still used the
 * stored columns in that gap said the OLD plan: the `lines` query's planCode filter (and its
 * totalCount), the per-account line count of a plan's maxLines, presenting and reminding an upsell
 * offer. And an ADD_ON placed before the boundary and completed after it went onto the new plan
 * without being checked against it. The sweep is never run here unless a test runs it.
 * Line: Europe/Berlin, bill cycle day 1; a downgrade FAMILY_SHARE_50GB → POSTPAID_20GB placed on
 * 16 November starts at the boundary 2026-11-30T23:00Z.
 */
let h: Harness;
let unrestrict = (): void => {};
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterEach(() => {
  unrestrict();
  unrestrict = () => {};
  h.clock.set('2026-11-16T10:00:00Z');
});
afterAll(async () => {
  await h?.close();
});

const BOUNDARY = '2026-11-30T23:00:00.000Z';
const BEFORE = '2026-11-30T22:59:59.000Z';
const GAP = '2026-11-30T23:00:30.000Z';
const gql = (q: string, v: Record<string, unknown>) => h.ok(q, v);
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`;
const LINES = `query($f: LineFilter) { lines(first: 50, filter: $f) { totalCount edges { node { id planCode } } } }`;
const tx = <T>(work: (em: Em) => Promise<T>) => h.subscribers.runtime.orm.em.fork().transactional((em) => work(em as Em));
const sweep = (at: string) => tx((em) => activateDueSubscriptions(em, new Date(at)));

let n = 0;
/** An account (postpaid, Berlin, cycle day 1) with a line on FAMILY_SHARE_50GB whose downgrade to POSTPAID_20GB waits for the boundary. */
async function lineWithChangeWaiting(): Promise<{ accountId: string; lineId: string }> {
  n += 1;
  const c = await gql(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Due Read ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await gql(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const accountId = a.openBillingAccount.billingAccount.id as string;
  const lineId = await addLine(accountId, 'FAMILY_SHARE_50GB');
  const changed = (await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan;
  expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: BOUNDARY });
  return { accountId, lineId };
}

let msisdn = 0;
async function addLine(billingAccountId: string, planCode: string | null): Promise<string> {
  msisdn += 1;
  const r = await gql(ADD_LINE, { i: { billingAccountId, msisdn: `+4915124${String(msisdn).padStart(6, '0')}`, ...(planCode ? { planCode } : {}) } });
  return r.addLine.line.id as string;
}

/** The ids (and planCodes) the `lines` query answers for the account and plan, with its totalCount. */
async function linesOnPlan(billingAccountId: string, planCode: string): Promise<{ totalCount: number; lines: { id: string; planCode: string }[] }> {
  const r = (await gql(LINES, { f: { billingAccountId, planCode } })).lines;
  return { totalCount: r.totalCount, lines: r.edges.map((e: { node: { id: string; planCode: string } }) => e.node) };
}

describe('reads of a line’s plan in the gap between the boundary and the sweep', () => {
  it('lines(filter: { planCode }) finds the line under the plan in force, not the stored column; totalCount agrees; nothing is written', async () => {
    const { accountId, lineId } = await lineWithChangeWaiting();
    const other = await addLine(accountId, 'FAMILY_SHARE_50GB');

    // Before the boundary: both lines on the old plan.
    h.clock.set(BEFORE);
    expect(await linesOnPlan(accountId, 'FAMILY_SHARE_50GB')).toEqual({ totalCount: 2, lines: [lineId, other].sort().map((id) => ({ id, planCode: 'FAMILY_SHARE_50GB' })) });
    expect(await linesOnPlan(accountId, 'POSTPAID_20GB')).toEqual({ totalCount: 0, lines: [] });

    // Just after it, no sweep yet: the changed line is on the new plan only.
    h.clock.set(GAP);
    const before = await h.counts();
    expect(await linesOnPlan(accountId, 'POSTPAID_20GB')).toEqual({ totalCount: 1, lines: [{ id: lineId, planCode: 'POSTPAID_20GB' }] });
    expect(await linesOnPlan(accountId, 'FAMILY_SHARE_50GB')).toEqual({ totalCount: 1, lines: [{ id: other, planCode: 'FAMILY_SHARE_50GB' }] });
    // The account's line list says the same.
    const account = await gql(`query($id: ID!) { billingAccount(id: $id) { lines { id planCode subscription { planCode status } } } }`, { id: accountId });
    expect(account.billingAccount.lines.find((l: { id: string }) => l.id === lineId)).toEqual({ id: lineId, planCode: 'POSTPAID_20GB', subscription: { planCode: 'POSTPAID_20GB', status: 'ACTIVE' } });
    // Answered from the rows as they are: the read wrote nothing, the stored column is still the old plan.
    expect(await h.counts()).toEqual(before);
    expect(await h.rows(`select plan_code from line where id = $1`, [lineId])).toEqual([{ plan_code: 'FAMILY_SHARE_50GB' }]);

    // After the sweep: the same answers, now from the column.
    await sweep('2026-11-30T23:01:00Z');
    expect(await linesOnPlan(accountId, 'POSTPAID_20GB')).toEqual({ totalCount: 1, lines: [{ id: lineId, planCode: 'POSTPAID_20GB' }] });
    expect(await linesOnPlan(accountId, 'FAMILY_SHARE_50GB')).toEqual({ totalCount: 1, lines: [{ id: other, planCode: 'FAMILY_SHARE_50GB' }] });
  });

  it("a plan's maxLines counts the lines on it now: the line that just left FAMILY_SHARE_50GB (max 5) no longer takes a place", async () => {
    const { accountId } = await lineWithChangeWaiting();
    for (let i = 0; i < 4; i += 1) await addLine(accountId, 'FAMILY_SHARE_50GB');
    const sixth = await addLine(accountId, null);
    const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { planCode status } } }`;

    // Before the boundary five lines hold the plan: a sixth is refused.
    h.clock.set(BEFORE);
    const refused = await h.subscribers.request<any>(SUBSCRIBE, { i: { lineId: sixth, planCode: 'FAMILY_SHARE_50GB' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ reason: 'PLAN_NOT_ELIGIBLE' });

    // After it (no sweep) one of them is on POSTPAID_20GB: the sixth line takes the fifth place.
    h.clock.set(GAP);
    const r = await h.subscribers.request<any>(SUBSCRIBE, { i: { lineId: sixth, planCode: 'FAMILY_SHARE_50GB' } });
    expect(r.errors).toBeUndefined();
    expect(r.data.subscribe.subscription).toMatchObject({ planCode: 'FAMILY_SHARE_50GB' });
  });

  it('an upsell offer sold only with the new plan is presented in the gap (it was WITHDRAWN "not sold with" the old plan)', async () => {
    const { lineId } = await lineWithChangeWaiting();
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['POSTPAID_20GB']);
    h.clock.set(GAP);
    const offer = await tx((em) => presentUpsellOffer(em, h.catalogClient, { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-12-01', rule: 'DATA_80_PERCENT', validForHours: 72, now: new Date(GAP) }));
    expect({ state: offer.state, reason: offer.reason }).toEqual({ state: 'PRESENTED', reason: null });
  });

  it('a reminder in the gap checks the plan in force: an offer the new plan sells is reminded (it was WITHDRAWN for the old plan)', async () => {
    const { lineId } = await lineWithChangeWaiting();
    // Presented in the gap (an offer presented before the boundary was for a period that ended with
    // the old plan and is withdrawn then: upsell-offer-plan-ended.test.ts), reminded a little later, still before the sweep.
    h.clock.set(GAP);
    const offer = await tx((em) => presentUpsellOffer(em, h.catalogClient, { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-30', rule: 'DATA_80_PERCENT', validForHours: 72, now: new Date(GAP) }));
    expect(offer.state).toBe('PRESENTED');
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['POSTPAID_20GB']);
    const later = new Date(new Date(GAP).getTime() + 10_000);
    const reminded = await tx((em) => remindUpsellOffer(em, h.catalogClient, { offerId: offer.id, now: later }));
    expect({ state: reminded.state, reason: reminded.reason, remindedAt: reminded.remindedAt?.toISOString() }).toEqual({ state: 'PRESENTED', reason: null, remindedAt: later.toISOString() });
  });
});

describe('an ADD_ON completed after the boundary is checked against the plan it lands on', () => {
  it('placed before the boundary (ending before it), completed after on a new plan that does not sell it: refused OFFER_NOT_COMPATIBLE, nothing written', async () => {
    const { lineId } = await lineWithChangeWaiting();
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['ROAM_WORLD_PASS_7D'], ['FAMILY_SHARE_50GB']);
    // Seven days' validity from 23 November ends before the boundary: sold on FAMILY_SHARE_50GB.
    const placedAt = new Date('2026-11-23T10:00:00Z');
    const { order } = await tx((em) => addAddOn(em, h.catalogClient, { lineId, offerCode: 'ROAM_WORLD_PASS_7D', now: placedAt }));
    await tx((em) => startOrder(em, order.id, placedAt));
    // The network took until after the boundary (no sweep ran): the add-on would run a week on POSTPAID_20GB.
    const before = await h.counts();
    const err = await tx((em) => completeOrder(em, order.id, new Date(GAP))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OFFER_NOT_COMPATIBLE', category: 'CONFLICT', details: { field: 'input.offerCode', planCode: 'POSTPAID_20GB' } });
    expect(await h.counts()).toEqual(before);
  });

  it('completed before the boundary but now valid past it, onto a scheduled plan that does not sell it: refused (it was carried onto that plan)', async () => {
    const { lineId } = await lineWithChangeWaiting();
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['ROAM_WORLD_PASS_7D'], ['FAMILY_SHARE_50GB']);
    const placedAt = new Date('2026-11-23T10:00:00Z');
    const { order } = await tx((em) => addAddOn(em, h.catalogClient, { lineId, offerCode: 'ROAM_WORLD_PASS_7D', now: placedAt }));
    await tx((em) => startOrder(em, order.id, placedAt));
    const before = await h.counts();
    const err = await tx((em) => completeOrder(em, order.id, new Date('2026-11-25T10:00:00Z'))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OFFER_NOT_COMPATIBLE', category: 'CONFLICT', details: { field: 'input.offerCode', scheduledPlanCode: 'POSTPAID_20GB' } });
    expect(await h.counts()).toEqual(before);
  });

  it('one the new plan sells completes on it as before', async () => {
    const { lineId } = await lineWithChangeWaiting();
    const placedAt = new Date('2026-11-23T10:00:00Z');
    const { order } = await tx((em) => addAddOn(em, h.catalogClient, { lineId, offerCode: 'ROAM_WORLD_PASS_7D', now: placedAt }));
    await tx((em) => startOrder(em, order.id, placedAt));
    const done = await tx((em) => completeOrder(em, order.id, new Date(GAP)));
    expect(done.status).toBe('COMPLETED');
    const [active] = await h.rows<{ plan_code: string; add_ons: string }>(`select plan_code, add_ons from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId]);
    expect(active!.plan_code).toBe('POSTPAID_20GB');
    expect(JSON.parse(active!.add_ons)).toEqual([{ code: 'ROAM_WORLD_PASS_7D', startsAt: GAP, endsAt: '2026-12-07T23:00:30.000Z' }]);
  });
});
