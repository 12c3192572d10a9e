// Review 18: an IMMEDIATE (postpaid) plan change was dated when it was placed. Invoicing bills a
// postpaid line's recurring fees at the period's close from the subscription segments these events
// give it (`applyPlanChange`), and never bills a closed period again. An order placed on 28 Nov and
// completed on 2 Dec (Temporal retrying provisioning across the boundary) then told invoicing, after
// November was billed on the old plan in full, that the new plan started on 28 Nov: November's
// difference was never charged (upgrade) or credited (downgrade), and December was billed on the new
// plan from its first day although the network switched on the 2nd.
//
// Now a postpaid IMMEDIATE change completing after the bill cycle of its placement has ended takes
// effect when it completes: the closed cycle stays as it was billed (the old plan, which the line
// had on the network), and the new cycle is prorated at the completion instant. No adjustment is
// needed, and none can be billed twice: subscribers cannot know whether invoicing has closed the
// period yet, and a one-off sent for it would be billed on top of the segments if it had not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type Harness } from './support';
import { gqlOn, openAccount, publishPlan } from './plan-fees-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  publishPlan(h, 'POSTPAID_20GB', 'R18_CHEAP', 'Review18 Cheap', '29.99', []);
  publishPlan(h, 'POSTPAID_20GB', 'R18_DEAR', 'Review18 Dear', '59.99', []);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status } } }`;

let n = 0;
const msisdn = () => `+4915128${String(918000 + n++).padStart(6, '0')}`;

/** A Berlin postpaid account (cycle day 1) with a line on R18_CHEAP since 16 Nov; an upgrade placed at `placedAt`, not yet fulfilled (as the Temporal dispatcher leaves it). */
async function upgradePlaced(placedAt: string) {
  h.clock.set('2026-11-16T10:00:00Z');
  const { accountId } = await openAccount(h, 'POSTPAID', 'Review18 Late', `r18-${n}@example.org`);
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'R18_CHEAP' } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  const lineId = added.line.id as string;
  h.clock.set(placedAt);
  const { changePlan } = await import('../src/application/plan-change');
  const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => changePlan(em as Em, h.catalogClient, { lineId, planCode: 'R18_DEAR', idempotencyKey: `r18-${lineId}`, now: h.clock.now() }));
  expect(placed.preview).toMatchObject({ timing: 'IMMEDIATE', effectiveAt: new Date(placedAt) });
  return { lineId, orderId: placed.order.id };
}

async function complete(orderId: string, at: string) {
  h.clock.set(at);
  expect((await gql(STEP('startOrder'), { i: { orderId } })).startOrder.order.status).toBe('IN_PROGRESS');
  expect((await gql(STEP('completeOrder'), { i: { orderId } })).completeOrder.order.status).toBe('COMPLETED');
}

/** The line's plan timeline as invoicing reads it: each subscription event's plan and instants. */
async function timeline(lineId: string) {
  const rows = await h.rows<{ subject: string; payload: string }>(`select subject, payload from outbox where subject in ($1, $2) and payload like $3 order by seq`, [
    EVENTS.subscriptionCreated.subject,
    EVENTS.subscriptionChanged.subject,
    `%${lineId}%`,
  ]);
  return rows.map((r) => {
    const d = (JSON.parse(r.payload) as { data: { planCode: string; startsAt: string; endsAt: string | null } }).data;
    return `${d.planCode} ${d.startsAt} → ${d.endsAt ?? 'open'}`;
  });
}

describe('review 18: an immediate plan change completed after its bill cycle closed', () => {
  it('takes effect when it completes, so the billed cycle is not changed after its close (nothing left unbilled)', async () => {
    const { lineId, orderId } = await upgradePlaced('2026-11-28T10:00:00Z');
    // November (Berlin) closes on 30 Nov 23:00 UTC and is billed on R18_CHEAP in full; the order completes on 2 Dec.
    await complete(orderId, '2026-12-02T08:00:00Z');
    const subs = await h.rows<{ plan_code: string; status: string; starts_at: Date; ends_at: Date | null }>(`select plan_code, status, starts_at, ends_at from subscription where line_id = $1 order by starts_at`, [lineId]);
    expect(subs.map((s) => [s.plan_code, s.status, new Date(s.starts_at).toISOString(), s.ends_at && new Date(s.ends_at).toISOString()])).toEqual([
      ['R18_CHEAP', 'ENDED', '2026-11-16T10:00:00.000Z', '2026-12-02T08:00:00.000Z'],
      ['R18_DEAR', 'ACTIVE', '2026-12-02T08:00:00.000Z', null],
    ]);
    // No instant of the change falls in November, which invoicing has billed and never bills again.
    const events = await timeline(lineId);
    expect(events.filter((e) => e.includes('2026-11-28'))).toEqual([]);
    expect(events.slice(-2)).toEqual(['R18_CHEAP 2026-11-16T10:00:00.000Z → 2026-12-02T08:00:00.000Z', 'R18_DEAR 2026-12-02T08:00:00.000Z → open']);

    // A redelivered completion (Temporal retry) changes nothing and says nothing again.
    h.clock.set('2026-12-03T08:00:00Z');
    expect((await gql(STEP('completeOrder'), { i: { orderId } })).completeOrder.order.status).toBe('COMPLETED');
    expect(await timeline(lineId)).toEqual(events);
  });

  it('completed within the cycle it was placed in, it still takes effect when placed (the quote\'s proration)', async () => {
    const { lineId, orderId } = await upgradePlaced('2026-11-20T10:00:00Z');
    await complete(orderId, '2026-11-30T22:30:00Z'); // half an hour before November closes (Berlin)
    const subs = await h.rows<{ plan_code: string; starts_at: Date }>(`select plan_code, starts_at from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId]);
    expect(subs.map((s) => [s.plan_code, new Date(s.starts_at).toISOString()])).toEqual([['R18_DEAR', '2026-11-20T10:00:00.000Z']]);
  });
});
