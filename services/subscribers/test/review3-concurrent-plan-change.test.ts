import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

/**
 * Review: a plan change sent twice at once (a double click, a client retry without an idempotency
 * key) must schedule one change. changePlan guards with reads only (assertNoScheduledChange,
 * assertNoOpenOrder) and nothing unique backs "one open order / one scheduled change per line"
 * (CONVENTIONS rule 5: unique constraints back every "exactly once"), so both requests pass the
 * checks, both orders complete, and the line gets two SCHEDULED subscriptions that the sweep turns
 * into two ACTIVE ones: the line is on its plan twice and every recurring fee is billed twice.
 */
let h: Harness;
const ok = (query: string, variables: Record<string, unknown>) => h.ok(query, variables);
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(() => h?.close());

const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { id status } preview { timing } } }`;

describe('review3: two plan changes for one line at the same moment', () => {
  it('schedules the downgrade once; after the cycle the line has exactly one ACTIVE subscription', async () => {
    const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
    const c = await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Doris Doubleclick', kind: 'INDIVIDUAL', timezone: 'Europe/Berlin', creditClass: 'B' } });
    const trials: { answers: string[]; activeAfterSweep: string[] }[] = [];
    // A few lines, so the two requests really overlap once the service is warm.
    for (let t = 0; t < 6; t++) {
      const a = await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } });
      const line = (await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151235550${10 + t}`, planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;
      expect(line.status).toBe('ACTIVE');
      // FAMILY_SHARE_50GB → POSTPAID_20GB is a downgrade: END_OF_CYCLE (1 Dec, Berlin).
      const answers = await Promise.all([
        h.subscribers.request<any>(CHANGE, { i: { lineId: line.id, planCode: 'POSTPAID_20GB' } }),
        h.subscribers.request<any>(CHANGE, { i: { lineId: line.id, planCode: 'POSTPAID_20GB' } }),
      ]);
      await h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as never, new Date('2026-12-01T00:00:00Z')));
      const subs = await h.rows<{ plan_code: string; status: string }>(`select plan_code, status from subscription where line_id = $1 order by created_at, id`, [line.id]);
      trials.push({
        answers: answers.map((r) => (r.errors ? `refused ${r.errors[0].extensions?.reason}` : `order ${r.data.changePlan.order.status}`)),
        activeAfterSweep: subs.filter((s) => s.status === 'ACTIVE').map((s) => s.plan_code),
      });
    }
    // Correct: one change per line (the second request refused PLAN_CHANGE_ALREADY_SCHEDULED or
    // ORDER_ALREADY_OPEN, as it is when sent after the first), and from 1 Dec exactly one ACTIVE subscription.
    const doubled = trials.filter((t) => t.answers.filter((a) => a === 'order COMPLETED').length !== 1 || t.activeAfterSweep.length !== 1);
    expect(doubled, `one plan change per line, one ACTIVE subscription after the cycle; trials: ${JSON.stringify(trials)}`).toEqual([]);
  });

  it('a line suspended twice at once: one SUSPEND order completes, one lineStateChanged event says so', async () => {
    // Same root: nothing locks the line between the checks and the effect. requestLineChange checks
    // the transition and the open orders by reading, and completeOrder locks the order row, not the
    // line, so two SUSPEND orders both pass ACTIVE → SUSPENDED and both complete: the network is
    // asked twice and partners get two lineStateChanged(SUSPENDED) events with different ids for
    // one state change (their deduplication by id cannot catch it).
    const c = await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Sam Suspend', kind: 'INDIVIDUAL' } });
    const S = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } order { status } } }`;
    const trials: { answers: string[]; suspendedEvents: number; network: string | null }[] = [];
    for (let t = 0; t < 6; t++) {
      const a = await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR' } });
      const line = (await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151235551${10 + t}` } })).addLine.line;
      const answers = await Promise.all([h.subscribers.request<any>(S, { i: { lineId: line.id } }), h.subscribers.request<any>(S, { i: { lineId: line.id } })]);
      const events = await h.rows<{ n: number }>(`select count(*)::int n from outbox where subject = 'billing.subscribers.line.statechanged' and payload like $1 and payload like '%"status":"SUSPENDED"%'`, [`%${line.id}%`]);
      const network = h.sandbox.network.get(`+49151235551${10 + t}`)?.status ?? null;
      trials.push({ answers: answers.map((r) => (r.errors ? `refused ${r.errors[0].extensions?.reason}` : `order ${r.data.suspendLine.order.status}`)), suspendedEvents: events[0]!.n, network });
    }
    // Correct: the second request is refused (ORDER_ALREADY_OPEN or LINE_ILLEGAL_TRANSITION), or its
    // order fails at completion; either way one completed SUSPEND and one event per state change.
    const doubled = trials.filter((t) => t.answers.filter((a) => a === 'order COMPLETED').length !== 1 || t.suspendedEvents !== 1);
    expect(doubled, `one SUSPEND completed and one lineStateChanged(SUSPENDED) per line; trials: ${JSON.stringify(trials)}`).toEqual([]);
  });
});
