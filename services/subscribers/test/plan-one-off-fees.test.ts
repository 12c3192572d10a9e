import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type Harness } from './support';
import { completeWithLostCommit, gqlOn, openAccount, publishPlan } from './plan-fees-support';

/**
 * A plan's one-off fees (`oneOffFees` with a trigger) are charged when their event happens, the way
 * the activation fee always was: a one-off charge row and its `oneoffcharge.created` event, which
 * wallets takes from a prepaid balance and invoicing puts on a postpaid bill. Before, only the
 * plan's FIRST activation fee was charged; plan-change and termination fees never were.
 * The shipped plans declare no such fees, so the test publishes its own plan documents.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  publishPlan(h, 'POSTPAID_20GB', 'FEES_POSTPAID_A', 'Fees A', '29.99', [
    { code: 'ACTIVATION', name: 'Activation fee', amount: '19.99', trigger: 'ACTIVATION' },
    { code: 'SIM_CARD', name: 'SIM card', amount: '5.00', trigger: 'ACTIVATION' },
    { code: 'CHANGE_TO_A', name: 'Change to Fees A', amount: '7.50', trigger: 'PLAN_CHANGE' },
    { code: 'ETF_A', name: 'Early termination fee', amount: '50.00', trigger: 'TERMINATION' },
  ]);
  publishPlan(h, 'POSTPAID_20GB', 'FEES_POSTPAID_B', 'Fees B', '39.99', [
    { code: 'PLAN_CHANGE', name: 'Plan change fee', amount: '10.00', trigger: 'PLAN_CHANGE' },
    { code: 'ETF_B', name: 'Contract termination fee', amount: '25.00', trigger: 'TERMINATION' },
    { code: 'NO_CHARGE', name: 'Free paperwork', amount: '0.00', trigger: 'TERMINATION' },
  ]);
  publishPlan(h, 'PREPAID_PAYG', 'FEES_PREPAID_A', 'Prepaid fees A', null, [
    { code: 'SIM_STARTER', name: 'Starter pack', amount: '9.95', trigger: 'ACTIVATION' },
    { code: 'ESIM_PROFILE', name: 'eSIM profile', amount: '2.00', trigger: 'ACTIVATION' },
  ]);
  publishPlan(h, 'PREPAID_PAYG', 'FEES_PREPAID_B', 'Prepaid fees B', null, [
    { code: 'SWITCH', name: 'Tariff switch', amount: '3.00', trigger: 'PLAN_CHANGE' },
    { code: 'CLOSE', name: 'Number closure', amount: '4.00', trigger: 'TERMINATION' },
  ]);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } preview { timing } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status } } }`;

let n = 0;
const msisdn = () => `+4915127${String(500000 + n++).padStart(6, '0')}`;

async function account(paymentMode: 'POSTPAID' | 'PREPAID') {
  return (await openAccount(h, paymentMode, 'Fees Customer', 'fees@example.org')).accountId;
}

interface ChargeRow {
  id: string;
  order_id: string;
  kind: string;
  reason: string;
  amount: string;
  currency: string;
  description: string;
}

/** The line's one-off charge rows, oldest first. */
const charges = (lineId: string) =>
  h.rows<ChargeRow>(`select id, order_id, kind, reason, amount::text as amount, currency, description from one_off_charge where line_id = $1 order by charged_at, one_off_charge.amount desc`, [lineId]);

/** The `oneoffcharge.created` events of the line in the outbox (what the relay publishes to wallets and invoicing). */
async function chargeEvents(lineId: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like $1 order by seq`, [`%${lineId}%`]);
  return rows.map((r) => JSON.parse(r.payload) as { id: string; subject: string; data: Record<string, unknown> });
}

/** Each charge row has exactly one event, carrying the same facts. */
async function expectOneEventPerCharge(lineId: string) {
  const rows = await charges(lineId);
  const events = await chargeEvents(lineId);
  expect(events.map((e) => e.data.chargeId).sort()).toEqual(rows.map((r) => r.id).sort());
  for (const row of rows) {
    const event = events.find((e) => e.data.chargeId === row.id)!;
    expect(event.subject).toBe(row.id);
    expect(event.data).toMatchObject({ lineId, orderId: row.order_id, kind: row.kind, reason: row.reason, currency: row.currency, description: row.description, periodStart: null, periodEnd: null });
    expect(dec(event.data.amount as string).eq(row.amount), `${event.data.amount} = ${row.amount}`).toBe(true);
  }
  return rows;
}

const brief = (rows: ChargeRow[]) => rows.map((r) => [r.reason, r.amount, r.description]);

describe('plan one-off fees on a postpaid line', () => {
  it('charges every activation fee, the new plan\'s plan-change fee and the last plan\'s termination fee, each once and named', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const accountId = await account('POSTPAID');
    const number = msisdn();
    const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'FEES_POSTPAID_A' } })).addLine;
    expect(added.order).toMatchObject({ kind: 'NEW_LINE', status: 'COMPLETED' });
    const lineId = added.line.id as string;
    // Both activation fees (before: only the first, 19.99), named on the bill.
    expect(brief(await expectOneEventPerCharge(lineId))).toEqual([
      ['ACTIVATION_FEE', '19.9900', `Activation fee for ${number}`],
      ['ACTIVATION_FEE', '5.0000', `SIM card for ${number}`],
    ]);

    // The change to B charges B's plan-change fee (the one of the plan changed to), not A's.
    h.clock.set('2026-11-20T09:00:00Z');
    const key = `fees-change-${lineId}`;
    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'FEES_POSTPAID_B', idempotencyKey: key } })).changePlan;
    expect(changed.order).toMatchObject({ kind: 'PLAN_CHANGE', status: 'COMPLETED' });
    expect(changed.preview.timing).toBe('IMMEDIATE');
    const afterChange = await expectOneEventPerCharge(lineId);
    expect(brief(afterChange).slice(2)).toEqual([['PLAN_CHANGE_FEE', '10.0000', `Plan change fee for ${number} (to Fees B)`]]);
    expect(afterChange[2]!.order_id).toBe(changed.order.id);
    // The same request again (a client retry) is the same order and charges nothing more.
    const replay = (await gql(CHANGE, { i: { lineId, planCode: 'FEES_POSTPAID_B', idempotencyKey: key } })).changePlan;
    expect(replay.order.id).toBe(changed.order.id);
    expect(await charges(lineId)).toEqual(afterChange);

    // Terminated on B: B's termination fee (its zero fee is not a charge), not A's 50.00.
    h.clock.set('2026-11-25T09:00:00Z');
    const ended = (await gql(TERMINATE, { i: { lineId, idempotencyKey: `fees-end-${lineId}` } })).terminateLine;
    expect(ended).toMatchObject({ line: { status: 'TERMINATED' }, order: { kind: 'TERMINATE', status: 'COMPLETED' } });
    const all = await expectOneEventPerCharge(lineId);
    expect(brief(all).slice(3)).toEqual([['TERMINATION_FEE', '25.0000', `Contract termination fee for ${number}`]]);
    expect(all.every((c) => c.kind === 'CHARGE' && c.currency === 'EUR')).toBe(true);
    expect((await gql(TERMINATE, { i: { lineId, idempotencyKey: `fees-end-${lineId}` } })).terminateLine.order.id).toBe(ended.order.id);
    expect(await charges(lineId)).toEqual(all);

    // The relay publishes them to JetStream for wallets and invoicing.
    const deadline = Date.now() + 10_000;
    let unpublished = -1;
    while (Date.now() < deadline) {
      unpublished = (await h.rows(`select seq from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like $1 and published_at is null`, [`%${lineId}%`])).length;
      if (unpublished === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(unpublished).toBe(0);
  });
});

describe('plan one-off fees on a prepaid line', () => {
  it('sends every fee on the same one-off charge event wallets takes from the balance', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const accountId = await account('PREPAID');
    const number = msisdn();
    const lineId = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'FEES_PREPAID_A' } })).addLine.line.id as string;
    h.clock.set('2026-11-18T10:00:00Z');
    expect((await gql(CHANGE, { i: { lineId, planCode: 'FEES_PREPAID_B' } })).changePlan.order.status).toBe('COMPLETED');
    h.clock.set('2026-11-19T10:00:00Z');
    expect((await gql(TERMINATE, { i: { lineId } })).terminateLine.order.status).toBe('COMPLETED');
    expect(brief(await expectOneEventPerCharge(lineId))).toEqual([
      ['ACTIVATION_FEE', '9.9500', `Starter pack for ${number}`],
      ['ACTIVATION_FEE', '2.0000', `eSIM profile for ${number}`],
      ['PLAN_CHANGE_FEE', '3.0000', `Tariff switch for ${number} (to Prepaid fees B)`],
      ['TERMINATION_FEE', '4.0000', `Number closure for ${number}`],
    ]);
  });
});

describe('plan one-off fees under retries', () => {
  it('completing a plan change or a termination again (overlapping, redelivered) charges once; a flaky network is retried without a second charge', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const accountId = await account('POSTPAID');
    const number = msisdn();
    const lineId = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'FEES_POSTPAID_A' } })).addLine.line.id as string;
    h.clock.set('2026-11-17T10:00:00Z');
    const { changePlan } = await import('../src/application/plan-change');
    // Placed without dispatching, as the Temporal dispatcher leaves it; then its steps run twice at once and once more later.
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => changePlan(em as Em, h.catalogClient, { lineId, planCode: 'FEES_POSTPAID_B', now: h.clock.now() }));
    expect((await gql(STEP('startOrder'), { i: { orderId: placed.order.id } })).startOrder.order.status).toBe('IN_PROGRESS');
    // A completion whose commit is lost (rolled back) and is then retried makes the same charge ids, so
    // wallets and invoicing, which keep one charge per id, could never take it twice.
    const lostAttempt = await completeWithLostCommit(h, placed.order.id);
    expect(lostAttempt).toHaveLength(1);
    const both = await Promise.all([gql(STEP('completeOrder'), { i: { orderId: placed.order.id } }), gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })]);
    expect(both.map((r) => r.completeOrder.order.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect((await gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })).completeOrder.order.status).toBe('COMPLETED');
    const changeFees = await h.rows<ChargeRow>(`select id, reason, amount::text as amount from one_off_charge where order_id = $1`, [placed.order.id]);
    expect(changeFees.map((c) => [c.id, c.reason, c.amount])).toEqual([[lostAttempt[0], 'PLAN_CHANGE_FEE', '10.0000']]);

    h.clock.set('2026-11-18T10:00:00Z');
    h.sandbox.behave('TERMINATE', number, { mode: 'flaky', times: 1 });
    const ended = (await gql(TERMINATE, { i: { lineId } })).terminateLine;
    expect(ended.order.status).toBe('COMPLETED');
    expect(h.sandbox.calls.filter((c) => c.msisdn === number && c.kind === 'TERMINATE').map((c) => c.op)).toEqual(['execute', 'execute']);
    expect((await gql(STEP('completeOrder'), { i: { orderId: ended.order.id } })).completeOrder.order.status).toBe('COMPLETED');
    expect(brief(await expectOneEventPerCharge(lineId))).toEqual([
      ['ACTIVATION_FEE', '19.9900', `Activation fee for ${number}`],
      ['ACTIVATION_FEE', '5.0000', `SIM card for ${number}`],
      ['PLAN_CHANGE_FEE', '10.0000', `Plan change fee for ${number} (to Fees B)`],
      ['TERMINATION_FEE', '25.0000', `Contract termination fee for ${number}`],
    ]);
  });
});

describe('plan one-off fees of orders that do not complete', () => {
  it('a failed activation, plan change or termination charges nothing; cancelling a line that never went live charges no termination fee', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const accountId = await account('POSTPAID');

    const refused = msisdn();
    h.sandbox.behave('NEW_LINE', refused, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const never = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: refused, planCode: 'FEES_POSTPAID_A' } })).addLine;
    expect(never.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    // The pending line is cancelled: it was never on the plan, so no termination fee either.
    const cancelled = (await gql(TERMINATE, { i: { lineId: never.line.id } })).terminateLine;
    expect(cancelled).toMatchObject({ line: { status: 'TERMINATED' }, order: { status: 'COMPLETED' } });
    expect(await charges(never.line.id)).toEqual([]);
    expect(await chargeEvents(never.line.id)).toEqual([]);

    const number = msisdn();
    const lineId = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'FEES_POSTPAID_A' } })).addLine.line.id as string;
    const activation = await charges(lineId);
    expect(activation).toHaveLength(2);

    h.sandbox.behave('PLAN_CHANGE', number, { mode: 'reject', code: 'PROVISIONING_PLAN_REFUSED' });
    const change = (await gql(CHANGE, { i: { lineId, planCode: 'FEES_POSTPAID_B' } })).changePlan;
    expect(change.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_PLAN_REFUSED' });
    expect(change.line.planCode).toBe('FEES_POSTPAID_A');

    h.sandbox.behave('TERMINATE', number, { mode: 'fail-after-apply' });
    const end = (await gql(TERMINATE, { i: { lineId } })).terminateLine;
    expect(end.order).toMatchObject({ status: 'FAILED' });
    expect(end.line.status).toBe('ACTIVE');

    expect(await charges(lineId)).toEqual(activation);
    expect((await chargeEvents(lineId)).map((e) => e.data.chargeId).sort()).toEqual(activation.map((c) => c.id).sort());
    h.sandbox.behave('PLAN_CHANGE', number, null);
    h.sandbox.behave('TERMINATE', number, null);
  });
});
