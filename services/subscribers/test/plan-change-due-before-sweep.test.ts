import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { activateDueSubscriptions } from '../src/application/activate-due-subscriptions';
import { addAddOn } from '../src/application/add-add-on';
import { completeOrder, startOrder } from '../src/application/fulfil-order';
import { ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';

/**
 * An END_OF_CYCLE plan change falls due at the cycle boundary but was started only by the periodic
 * sweep (about every 60 s). In between, every request that reads or changes the line's plan now
 * sees it as started: changePlan decides on the new plan (it was refused PLAN_CHANGE_ALREADY_SCHEDULED
 * naming a start already past), an add-on is sold for the new plan (and its order completes even if
 * the sweep runs before it does), and the line's queries show the new plan. The events of the start
 * are the sweep's own (same ids, dated by the boundary in startsAt/endsAt), so the sweep afterwards
 * does nothing. The sweep is never run here unless a test runs it.
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
  h.clock.set('2026-11-16T10:00:00Z');
});
afterAll(async () => {
  await h?.close();
});

const BOUNDARY = '2026-11-30T23:00:00.000Z';
const GAP = '2026-11-30T23:00:30.000Z';
const gql = (q: string, v: Record<string, unknown>) => h.ok(q, v);
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing effectiveAt fromPlanCode toPlanCode } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing effectiveAt fromPlanCode toPlanCode } }`;
const ADD = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { ${ORDER_FIELDS} } } }`;
const LINE = `query($id: ID!) { line(id: $id) { planCode subscription { planCode status startsAt endsAt } subscriptions { planCode status startsAt endsAt addOns { code } } } }`;
const tx = <T>(work: (em: Em) => Promise<T>) => h.subscribers.runtime.orm.em.fork().transactional((em) => work(em as Em));
const sweep = (at: string) => tx((em) => activateDueSubscriptions(em, new Date(at)));

let n = 0;
/** A postpaid line on FAMILY_SHARE_50GB with a downgrade to POSTPAID_20GB waiting for the boundary. */
async function lineWithChangeWaiting(): Promise<{ lineId: string; oldSub: string; newSub: string }> {
  n += 1;
  const c = await gql(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Due Change ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await gql(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await gql(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239931${String(n).padStart(2, '0')}`, planCode: 'FAMILY_SHARE_50GB' } });
  const lineId = line.addLine.line.id as string;
  const changed = (await gql(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan;
  expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: BOUNDARY });
  const [oldSub] = await h.rows<{ id: string }>(`select id from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId]);
  const [newSub] = await h.rows<{ id: string }>(`select id from subscription where line_id = $1 and status = 'SCHEDULED'`, [lineId]);
  return { lineId, oldSub: oldSub!.id, newSub: newSub!.id };
}

async function subscriptionEvents(subscriptionId: string): Promise<{ id: string; data: { status: string; startsAt: string; endsAt: string | null; addOns: { code: string }[] } }[]> {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject in ($1, $2) and payload like $3 order by seq`, [EVENTS.subscriptionCreated.subject, EVENTS.subscriptionChanged.subject, `%"subscriptionId":"${subscriptionId}"%`]);
  return rows.map((r) => JSON.parse(r.payload));
}

/** The outbox rows about the line (the sweep runs over every line of the schema, other tests' too). */
async function lineOutbox(lineId: string): Promise<number> {
  const [row] = await h.rows<{ n: number }>(`select count(*)::int as n from outbox where payload like $1`, [`%${lineId}%`]);
  return row!.n;
}

async function subscriptions(lineId: string): Promise<{ plan_code: string; status: string; starts_at: string; ends_at: string | null }[]> {
  return h.rows(`select plan_code, status, to_char(starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as starts_at, to_char(ends_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as ends_at from subscription where line_id = $1 order by starts_at, created_at`, [lineId]);
}

describe('a plan change due at the boundary, before the sweep has started it', () => {
  it('the line reads as on the new plan (queries write nothing)', async () => {
    const { lineId } = await lineWithChangeWaiting();
    h.clock.set(GAP);
    const before = await h.counts();
    const { line } = await gql(LINE, { id: lineId });
    expect(line.planCode).toBe('POSTPAID_20GB');
    expect(line.subscription).toEqual({ planCode: 'POSTPAID_20GB', status: 'ACTIVE', startsAt: BOUNDARY, endsAt: null });
    expect(line.subscriptions.map((s: { planCode: string; status: string }) => [s.planCode, s.status])).toEqual([
      ['POSTPAID_20GB', 'ACTIVE'],
      ['FAMILY_SHARE_50GB', 'ENDED'],
    ]);
    expect(await h.counts()).toEqual(before);
    // The rows are still as the sweep will find them.
    expect((await subscriptions(lineId)).map((s) => s.status)).toEqual(['ACTIVE', 'SCHEDULED']);
  });

  it('changePlan decides on the new plan: an upgrade of it, at once (not PLAN_CHANGE_ALREADY_SCHEDULED for a past date); the sweep then does nothing', async () => {
    const { lineId, oldSub, newSub } = await lineWithChangeWaiting();
    h.clock.set(GAP);
    const before = await h.counts();
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'FAMILY_SHARE_50GB' } })).previewPlanChange;
    expect(preview).toEqual({ timing: 'IMMEDIATE', effectiveAt: GAP, fromPlanCode: 'POSTPAID_20GB', toPlanCode: 'FAMILY_SHARE_50GB' });
    expect(await h.counts()).toEqual(before);

    const input = { lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `due-change-${lineId}` };
    const r = await h.subscribers.request<any>(CHANGE, { i: input });
    expect(r.errors).toBeUndefined();
    expect(r.data.changePlan.order.status).toBe('COMPLETED');
    expect(r.data.changePlan.preview).toEqual({ timing: 'IMMEDIATE', effectiveAt: GAP, fromPlanCode: 'POSTPAID_20GB', toPlanCode: 'FAMILY_SHARE_50GB' });
    // The old plan to the boundary, the new one from the boundary to now, the upgrade from now.
    expect(await subscriptions(lineId)).toEqual([
      { plan_code: 'FAMILY_SHARE_50GB', status: 'ENDED', starts_at: '2026-11-16T10:00:00', ends_at: '2026-11-30T23:00:00' },
      { plan_code: 'POSTPAID_20GB', status: 'ENDED', starts_at: '2026-11-30T23:00:00', ends_at: '2026-11-30T23:00:30' },
      { plan_code: 'FAMILY_SHARE_50GB', status: 'ACTIVE', starts_at: '2026-11-30T23:00:30', ends_at: null },
    ]);
    // The start's events are the sweep's: dated by the boundary, once.
    const started = (await subscriptionEvents(newSub)).map((e) => e.data);
    expect(started.map((d) => [d.status, d.startsAt, d.endsAt])).toEqual([
      ['SCHEDULED', BOUNDARY, null],
      ['ACTIVE', BOUNDARY, null],
      ['ENDED', BOUNDARY, GAP],
    ]);
    expect((await subscriptionEvents(oldSub)).map((e) => [e.data.status, e.data.endsAt]).at(-1)).toEqual(['ENDED', BOUNDARY]);

    // The sweep afterwards finds nothing; the same request again answers the same order.
    const outbox = await lineOutbox(lineId);
    const rows = await subscriptions(lineId);
    await sweep('2026-11-30T23:01:00Z');
    expect(await lineOutbox(lineId)).toBe(outbox);
    expect(await subscriptions(lineId)).toEqual(rows);
    const again = await h.subscribers.request<any>(CHANGE, { i: input });
    expect(again.data?.changePlan.order.id).toBe(r.data.changePlan.order.id);
    expect(await lineOutbox(lineId)).toBe(outbox);
  });

  it('changePlan onto the plan that just started is refused as already on it, and nothing is written', async () => {
    const { lineId } = await lineWithChangeWaiting();
    h.clock.set(GAP);
    const before = await h.counts();
    const r = await h.subscribers.request<any>(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_CHANGE_SAME_PLAN', field: 'input.planCode' });
    expect(await h.counts()).toEqual(before);
  });

  it('an add-on the new plan cannot hold is refused OFFER_NOT_COMPATIBLE for the plan in force, without a past date', async () => {
    const { lineId } = await lineWithChangeWaiting();
    unrestrict = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['FAMILY_SHARE_50GB']);
    h.clock.set(GAP);
    const before = await h.counts();
    const r = await h.subscribers.request<any>(ADD, { i: { lineId, offerCode: 'DATA_BOOST_5GB' } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_NOT_COMPATIBLE', field: 'input.offerCode' });
    expect(r.errors?.[0]?.extensions?.scheduledPlanCode).toBeUndefined();
    expect(r.errors?.[0]?.message).toBe('Offer DATA_BOOST_5GB cannot be added to plan POSTPAID_20GB');
    expect(await h.counts()).toEqual(before);
  });

  it('an add-on ordered in the gap is sold on the new plan and completes even if the sweep runs first; the sweep does nothing twice', async () => {
    const { lineId, oldSub, newSub } = await lineWithChangeWaiting();
    h.clock.set(GAP);
    const at = new Date(GAP);
    // Placed (as Temporal fulfilment leaves it: not completed yet), then the sweep, then completed.
    const command = { lineId, offerCode: 'ROAM_WORLD_PASS_7D', idempotencyKey: `due-addon-${lineId}`, now: at };
    const { order } = await tx((em) => addAddOn(em, h.catalogClient, command));
    expect(JSON.parse(order.request).subscriptionId).toBe(newSub);
    await sweep('2026-11-30T23:00:45Z');
    await tx((em) => startOrder(em, order.id, new Date('2026-11-30T23:00:50Z')));
    const done = await tx((em) => completeOrder(em, order.id, new Date('2026-11-30T23:00:50Z')));
    expect(done.status).toBe('COMPLETED');

    const PASS = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-30T23:00:50.000Z', endsAt: '2026-12-07T23:00:50.000Z' };
    const [active] = await h.rows<{ id: string; add_ons: string }>(`select id, add_ons from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId]);
    expect(active).toEqual({ id: newSub, add_ons: JSON.stringify([PASS]) });
    const [ended] = await h.rows<{ add_ons: string }>(`select add_ons from subscription where id = $1 and status = 'ENDED'`, [oldSub]);
    expect(JSON.parse(ended!.add_ons)).toEqual([]);
    expect(await h.rows(`select subscription_id, amount::text from one_off_charge where order_id = $1`, [order.id])).toEqual([{ subscription_id: newSub, amount: '9.9900' }]);
    // One start event for the new plan; the sweep afterwards moves nothing and writes nothing.
    expect((await subscriptionEvents(newSub)).filter((e) => e.data.status === 'ACTIVE' && e.data.addOns.length === 0)).toHaveLength(1);
    const outbox = await lineOutbox(lineId);
    await sweep('2026-11-30T23:01:30Z');
    expect(await lineOutbox(lineId)).toBe(outbox);
    // The same request again (same key) answers the same order.
    const again = await tx((em) => addAddOn(em, h.catalogClient, { ...command, now: new Date('2026-11-30T23:02:00Z') }));
    expect(again.order.id).toBe(order.id);
  });

  it('an add-on ordered before the boundary and completed after the sweep started the new plan completes on the new plan', async () => {
    const { lineId, newSub } = await lineWithChangeWaiting();
    h.clock.set('2026-11-30T22:59:50Z');
    const { order } = await tx((em) => addAddOn(em, h.catalogClient, { lineId, offerCode: 'ROAM_WORLD_PASS_7D', now: new Date('2026-11-30T22:59:50Z') }));
    await sweep('2026-11-30T23:00:10Z');
    expect((await subscriptions(lineId)).map((s) => s.status)).toEqual(['ENDED', 'ACTIVE']);
    await tx((em) => startOrder(em, order.id, new Date('2026-11-30T23:00:20Z')));
    const done = await tx((em) => completeOrder(em, order.id, new Date('2026-11-30T23:00:20Z')));
    expect(done.status).toBe('COMPLETED');
    const [active] = await h.rows<{ id: string; add_ons: string }>(`select id, add_ons from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId]);
    expect(active!.id).toBe(newSub);
    expect(JSON.parse(active!.add_ons)).toEqual([{ code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-30T23:00:20.000Z', endsAt: '2026-12-07T23:00:20.000Z' }]);
  });
});
