// Review 8: a plan's one-off fees (commit 90fcada) around an END_OF_CYCLE plan change.
//
// catalog/README.md (oneOffFees): "Subscribers charges each fee once, when its trigger happens to a
// line ... `PLAN_CHANGE`: the fees of the plan changed **to** (its price for moving onto it) ...
// `TERMINATION`: the fees of the plan version the line is on when it is terminated".
//
// 1. A downgrade is END_OF_CYCLE: the order completes at once and the new plan's change fee is
//    charged then. Terminate the line before the cycle ends and the new plan never starts (its
//    SCHEDULED subscription is ENDED with zero length), yet the "price for moving onto it" stays
//    charged: the customer pays for a move that never happened.
// 2. The termination fee is read when the TERMINATE order is placed. An order placed just before
//    the cycle boundary and completed after it (the Temporal dispatcher fulfils orders later, with
//    network retries) charges the termination fee of the plan the line LEFT at the boundary, not of
//    the plan it is on when it is terminated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type Harness } from './support';
import { gqlOn, openAccount, publishPlan } from './plan-fees-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  publishPlan(h, 'POSTPAID_20GB', 'R8_DEAR', 'Review8 Dear', '39.99', [{ code: 'ETF_DEAR', name: 'Dear termination fee', amount: '25.00', trigger: 'TERMINATION' }]);
  publishPlan(h, 'POSTPAID_20GB', 'R8_CHEAP', 'Review8 Cheap', '29.99', [
    { code: 'SWITCH_CHEAP', name: 'Switch fee', amount: '7.50', trigger: 'PLAN_CHANGE' },
    { code: 'ETF_CHEAP', name: 'Cheap termination fee', amount: '50.00', trigger: 'TERMINATION' },
  ]);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status } } }`;

let n = 0;
const msisdn = () => `+4915128${String(800000 + n++).padStart(6, '0')}`;

async function lineOnDearPlan() {
  h.clock.set('2026-11-16T10:00:00Z');
  const { accountId } = await openAccount(h, 'POSTPAID', 'Review8 Fees', 'r8@example.org');
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'R8_DEAR' } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return added.line.id as string;
}

/** A downgrade placed on 20 Nov: END_OF_CYCLE, the cheap plan starts 1 Dec 00:00 Berlin. */
async function downgrade(lineId: string) {
  h.clock.set('2026-11-20T09:00:00Z');
  const changed = (await gql(CHANGE, { i: { lineId, planCode: 'R8_CHEAP', idempotencyKey: `r8-change-${lineId}` } })).changePlan;
  expect(changed.order.status).toBe('COMPLETED');
  expect(changed.preview.timing).toBe('END_OF_CYCLE');
  expect(new Date(changed.preview.effectiveAt).toISOString()).toBe('2026-11-30T23:00:00.000Z');
  return changed.order.id as string;
}

const charges = (lineId: string) =>
  h.rows<{ reason: string; amount: string; order_id: string }>(`select reason, amount::text as amount, order_id from one_off_charge where line_id = $1 order by charged_at, id`, [lineId]);
const total = (rows: { amount: string }[]) => rows.reduce((s, r) => s.plus(r.amount), dec('0')).toFixed(2);

describe('review8: plan fees and an end-of-cycle plan change', () => {
  it('a line terminated before its scheduled plan starts is not left paying that plan\'s change fee', async () => {
    const lineId = await lineOnDearPlan();
    await downgrade(lineId);
    h.clock.set('2026-11-25T09:00:00Z');
    const ended = (await gql(TERMINATE, { i: { lineId, idempotencyKey: `r8-end-${lineId}` } })).terminateLine;
    expect(ended).toMatchObject({ line: { status: 'TERMINATED' }, order: { status: 'COMPLETED' } });
    // The cheap plan never started: its subscription ended at the instant it was due to start.
    const subs = await h.rows<{ plan_code: string; status: string; starts_at: Date; ends_at: Date | null }>(
      `select plan_code, status, starts_at, ends_at from subscription where line_id = $1 order by created_at`,
      [lineId],
    );
    const cheap = subs.find((s) => s.plan_code === 'R8_CHEAP')!;
    expect(cheap.status).toBe('ENDED');
    expect(new Date(cheap.ends_at!).getTime()).toBe(new Date(cheap.starts_at).getTime());
    // What the customer owes in one-off fees: the termination fee of the plan they were on (25.00),
    // not also 7.50 "for moving onto" a plan they never had.
    const rows = await charges(lineId);
    expect(rows.map((r) => r.reason)).toContain('TERMINATION_FEE');
    expect(total(rows), JSON.stringify(rows)).toBe('25.00');
  });

  it('the termination fee is that of the plan the line is on when it is terminated (an order completed after the cycle boundary)', async () => {
    const lineId = await lineOnDearPlan();
    await downgrade(lineId);
    // Placed half an hour before the boundary, as the Temporal dispatcher leaves it (fulfilled later).
    h.clock.set('2026-11-30T22:30:00Z');
    const { requestLineChange } = await import('../src/application/line-orders');
    const placed = await h.subscribers.runtime.orm.em
      .fork()
      .transactional((em) => requestLineChange(em as Em, { kind: 'TERMINATE', lineId, idempotencyKey: `r8-late-end-${lineId}`, now: h.clock.now() }, h.catalogClient));
    // The cycle turns: the scheduled change falls due and the line is on the cheap plan.
    h.clock.set('2026-12-01T00:30:00Z');
    const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
    await h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as Em, h.clock.now()));
    const line = (await gql(`query($id: ID!) { line(id: $id) { ${LINE_FIELDS} } }`, { id: lineId })).line;
    expect(line).toMatchObject({ planCode: 'R8_CHEAP', subscription: { planCode: 'R8_CHEAP', status: 'ACTIVE' } });
    // Provisioning done, the order completes: the line is terminated on R8_CHEAP.
    expect((await gql(STEP('startOrder'), { i: { orderId: placed.order.id } })).startOrder.order.status).toBe('IN_PROGRESS');
    expect((await gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })).completeOrder.order.status).toBe('COMPLETED');
    const termination = (await charges(lineId)).filter((r) => r.order_id === placed.order.id);
    expect(termination.map((r) => [r.reason, dec(r.amount).toFixed(2)])).toEqual([['TERMINATION_FEE', '50.00']]);
  });
});
