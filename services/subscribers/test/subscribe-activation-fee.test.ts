import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { gqlOn, openAccount, publishPlan } from './plan-fees-support';

/**
 * Gap (STATUS "Not done"): `subscribe` (a plan put on a line that has none, without an order)
 * charged no ACTIVATION fee, while a line ordered with the plan (addLine → NEW_LINE) pays each of
 * them. Now a plan subscribed to a live line charges its ACTIVATION fees at once, and one subscribed
 * to a line still PENDING charges them when the line's NEW_LINE order completes (the line goes live
 * then, as with addLine; a line that never goes live pays nothing). Same one-off charge rows and
 * `oneoffcharge.created` events as the order paths, with deterministic ids, each charged once.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  publishPlan(h, 'POSTPAID_20GB', 'SUB_FEES_POSTPAID', 'Subscribed fees', '29.99', [
    { code: 'ACTIVATION', name: 'Activation fee', amount: '19.99', trigger: 'ACTIVATION' },
    { code: 'SIM_CARD', name: 'SIM card', amount: '5.00', trigger: 'ACTIVATION' },
    { code: 'CHANGE', name: 'Change fee', amount: '7.50', trigger: 'PLAN_CHANGE' },
    { code: 'ETF', name: 'Early termination fee', amount: '50.00', trigger: 'TERMINATION' },
  ]);
  publishPlan(h, 'POSTPAID_20GB', 'SUB_NO_FEES', 'No fees', '29.99', []);
  publishPlan(h, 'POSTPAID_20GB', 'SUB_NO_ACTIVATION', 'No activation fee', '29.99', [{ code: 'ETF', name: 'Early termination fee', amount: '50.00', trigger: 'TERMINATION' }]);
  publishPlan(h, 'PREPAID_PAYG', 'SUB_FEES_PREPAID', 'Prepaid subscribed fees', null, [{ code: 'SIM_STARTER', name: 'Starter pack', amount: '9.95', trigger: 'ACTIVATION' }]);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { id kind status } } }`;
const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id status planCode } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { id status } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status } } }`;

let n = 0;
const msisdn = () => `+4915128${String(300000 + n++).padStart(6, '0')}`;

interface ChargeRow {
  id: string;
  order_id: string | null;
  subscription_id: string | null;
  kind: string;
  reason: string;
  amount: string;
  currency: string;
  description: string;
}

const charges = (lineId: string) =>
  h.rows<ChargeRow>(
    `select id, order_id, subscription_id, kind, reason, amount::text as amount, currency, description from one_off_charge where line_id = $1 order by charged_at, one_off_charge.amount desc`,
    [lineId],
  );

async function chargeEvents(lineId: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like $1 order by seq`, [`%${lineId}%`]);
  return rows.map((r) => JSON.parse(r.payload) as { id: string; subject: string; data: Record<string, unknown> });
}

/** The line's charges, each with exactly one event carrying the same facts. */
async function chargesWithOneEventEach(lineId: string) {
  const rows = await charges(lineId);
  const events = await chargeEvents(lineId);
  expect(events.map((e) => e.data.chargeId).sort()).toEqual(rows.map((r) => r.id).sort());
  for (const row of rows) {
    const event = events.find((e) => e.data.chargeId === row.id)!;
    expect(event.subject).toBe(row.id);
    expect(event.data).toMatchObject({ lineId, orderId: row.order_id, subscriptionId: row.subscription_id, kind: 'CHARGE', reason: row.reason, currency: row.currency, description: row.description });
    expect(dec(event.data.amount as string).eq(row.amount), `${event.data.amount} = ${row.amount}`).toBe(true);
  }
  return rows;
}

const brief = (rows: ChargeRow[]) => rows.map((r) => [r.reason, r.amount, r.currency, r.description]);

/** A line added without a plan, its NEW_LINE order completed in process: ACTIVE, no plan. */
async function liveLineWithoutPlan(paymentMode: 'POSTPAID' | 'PREPAID') {
  const { accountId } = await openAccount(h, paymentMode, 'Subscribe Fees', 'subscribe-fees@example.org');
  const number = msisdn();
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number } })).addLine;
  expect(added).toMatchObject({ line: { status: 'ACTIVE' }, order: { kind: 'NEW_LINE', status: 'COMPLETED' } });
  expect(await charges(added.line.id)).toEqual([]);
  return { lineId: added.line.id as string, number, accountId };
}

/** A line added without a plan whose NEW_LINE order is placed but not fulfilled (as the Temporal dispatcher leaves it): PENDING. */
async function pendingLineWithoutPlan() {
  const { accountId } = await openAccount(h, 'POSTPAID', 'Subscribe Pending', 'subscribe-pending@example.org');
  const number = msisdn();
  const { addLine } = await import('../src/application/add-line');
  const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => addLine(em as Em, h.catalogClient, { billingAccountId: accountId, msisdn: number, now: h.clock.now(), quarantineDays: 90 }));
  expect(placed.line.status).toBe('PENDING');
  return { lineId: placed.line.id, orderId: placed.order.id, number };
}

describe('subscribe charges the plan\'s ACTIVATION fees', () => {
  it('a live postpaid line: every ACTIVATION fee once, at once, named, with its event; no other trigger\'s fee', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, number } = await liveLineWithoutPlan('POSTPAID');
    h.clock.set('2026-11-17T09:30:00Z');
    const sub = (await gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } })).subscribe.subscription;
    expect(sub).toMatchObject({ status: 'ACTIVE', planCode: 'SUB_FEES_POSTPAID' });
    const rows = await chargesWithOneEventEach(lineId);
    expect(brief(rows)).toEqual([
      ['ACTIVATION_FEE', '19.9900', 'EUR', `Activation fee for ${number}`],
      ['ACTIVATION_FEE', '5.0000', 'EUR', `SIM card for ${number}`],
    ]);
    // No order made them: they belong to the subscription, charged when it was made.
    expect(rows.map((r) => [r.kind, r.order_id, r.subscription_id])).toEqual([
      ['CHARGE', null, sub.id],
      ['CHARGE', null, sub.id],
    ]);
    const chargedAt = await h.rows<{ at: Date }>(`select charged_at as at from one_off_charge where line_id = $1`, [lineId]);
    expect(chargedAt.map((r) => new Date(r.at).toISOString())).toEqual(['2026-11-17T09:30:00.000Z', '2026-11-17T09:30:00.000Z']);
  });

  it('a retried subscribe (the answer lost, or sent twice at once) charges once', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId } = await liveLineWithoutPlan('POSTPAID');
    // Two at once: one subscribes, the other waits for the line and is refused.
    const both = await Promise.all([0, 1].map(() => h.subscribers.request(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } })));
    expect(both.filter((r) => !r.errors)).toHaveLength(1);
    expect(both.flatMap((r) => r.errors ?? []).map((e) => [e.extensions?.code, e.extensions?.reason])).toEqual([['CONFLICT', 'SUBSCRIPTION_ALREADY_EXISTS']]);
    const first = await chargesWithOneEventEach(lineId);
    expect(first.map((r) => r.amount)).toEqual(['19.9900', '5.0000']);
    // The client retries later (its answer was lost): the line has the plan, nothing more is charged.
    const retried = await h.subscribers.request(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } });
    expect(retried.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'SUBSCRIPTION_ALREADY_EXISTS' });
    expect(await chargesWithOneEventEach(lineId)).toEqual(first);
  });

  it('a subscribe whose commit is lost, then retried, charges once', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId } = await liveLineWithoutPlan('POSTPAID');
    const { subscribe } = await import('../src/application/subscribe');
    const { OneOffCharge } = await import('../src/persistence/entities');
    let lost: string[] = [];
    await h.subscribers.runtime.orm.em
      .fork()
      .transactional(async (em) => {
        await subscribe(em as Em, h.catalogClient, { lineId, planCode: 'SUB_FEES_POSTPAID', now: h.clock.now() });
        lost = (await em.find(OneOffCharge, { lineId })).map((c) => c.id);
        throw new Error('commit lost');
      })
      .catch(() => undefined);
    expect(lost).toHaveLength(2);
    expect(await charges(lineId)).toEqual([]);
    expect((await gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } })).subscribe.subscription.status).toBe('ACTIVE');
    expect((await chargesWithOneEventEach(lineId)).map((r) => r.amount)).toEqual(['19.9900', '5.0000']);
  });

  it('a plan without an ACTIVATION fee charges nothing', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    // No fees at all, and fees for other triggers only.
    const none = await liveLineWithoutPlan('POSTPAID');
    expect((await gql(SUBSCRIBE, { i: { lineId: none.lineId, planCode: 'SUB_NO_FEES' } })).subscribe.subscription.status).toBe('ACTIVE');
    const other = await liveLineWithoutPlan('POSTPAID');
    expect((await gql(SUBSCRIBE, { i: { lineId: other.lineId, planCode: 'SUB_NO_ACTIVATION' } })).subscribe.subscription.status).toBe('ACTIVE');
    expect(await charges(none.lineId)).toEqual([]);
    expect(await chargeEvents(none.lineId)).toEqual([]);
    expect(await charges(other.lineId)).toEqual([]);
    expect(await chargeEvents(other.lineId)).toEqual([]);
  });

  it('a prepaid line: the starter pack is charged (wallets takes it from the balance)', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, number } = await liveLineWithoutPlan('PREPAID');
    await gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_PREPAID' } });
    expect(brief(await chargesWithOneEventEach(lineId))).toEqual([['ACTIVATION_FEE', '9.9500', 'EUR', `Starter pack for ${number}`]]);
  });
});

describe('subscribe on a line still PENDING', () => {
  it('charges the ACTIVATION fees when the NEW_LINE order completes (once, however often it is completed), not before', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, orderId, number } = await pendingLineWithoutPlan();
    const sub = (await gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } })).subscribe.subscription;
    expect(sub.status).toBe('PENDING');
    expect(await charges(lineId)).toEqual([]);
    expect(await chargeEvents(lineId)).toEqual([]);

    h.clock.set('2026-11-16T11:00:00Z');
    expect((await gql(STEP('startOrder'), { i: { orderId } })).startOrder.order.status).toBe('IN_PROGRESS');
    const twice = await Promise.all([gql(STEP('completeOrder'), { i: { orderId } }), gql(STEP('completeOrder'), { i: { orderId } })]);
    expect(twice.map((r) => r.completeOrder.order.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect((await gql(STEP('completeOrder'), { i: { orderId } })).completeOrder.order.status).toBe('COMPLETED');
    const rows = await chargesWithOneEventEach(lineId);
    expect(brief(rows)).toEqual([
      ['ACTIVATION_FEE', '19.9900', 'EUR', `Activation fee for ${number}`],
      ['ACTIVATION_FEE', '5.0000', 'EUR', `SIM card for ${number}`],
    ]);
    // Charged by the order that put the line (and the plan) live, as for a line ordered with the plan.
    expect(rows.map((r) => [r.order_id, r.subscription_id])).toEqual([
      [orderId, sub.id],
      [orderId, sub.id],
    ]);
  });

  it('a subscribe racing the completion of the NEW_LINE order charges once, whichever comes first', async () => {
    for (let round = 0; round < 4; round++) {
      h.clock.set('2026-11-16T10:00:00Z');
      const { lineId, orderId } = await pendingLineWithoutPlan();
      expect((await gql(STEP('startOrder'), { i: { orderId } })).startOrder.order.status).toBe('IN_PROGRESS');
      const [subscribed, completed] = await Promise.all([gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } }), gql(STEP('completeOrder'), { i: { orderId } })]);
      expect(completed.completeOrder.order.status).toBe('COMPLETED');
      const line = (await gql(`query($id: ID!) { line(id: $id) { status subscriptions { id status } } }`, { id: lineId })).line;
      expect(line).toEqual({ status: 'ACTIVE', subscriptions: [{ id: subscribed.subscribe.subscription.id, status: 'ACTIVE' }] });
      expect((await chargesWithOneEventEach(lineId)).map((r) => r.amount)).toEqual(['19.9900', '5.0000']);
    }
  });

  it('a line that never goes live (its NEW_LINE order failed, then cancelled) pays no activation fee', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, orderId } = await pendingLineWithoutPlan();
    await gql(SUBSCRIBE, { i: { lineId, planCode: 'SUB_FEES_POSTPAID' } });
    await gql(STEP('startOrder'), { i: { orderId } });
    expect((await gql(`mutation($i: OrderStepInput!) { failOrder(input: $i) { order { status } } }`, { i: { orderId, failureCode: 'PROVISIONING_SIM_UNKNOWN', failureMessage: 'no such SIM' } })).failOrder.order.status).toBe('FAILED');
    expect((await gql(TERMINATE, { i: { lineId } })).terminateLine).toMatchObject({ line: { status: 'TERMINATED' }, order: { status: 'COMPLETED' } });
    expect(await charges(lineId)).toEqual([]);
    expect(await chargeEvents(lineId)).toEqual([]);
  });
});
