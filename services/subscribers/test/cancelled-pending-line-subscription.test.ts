import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { gqlOn, openAccount } from './plan-fees-support';

/**
 * A line that never went live (its NEW_LINE order failed) is cancelled with terminateLine days
 * later. Its plan (the subscription ordered with the line, PENDING) was never in force, so it must
 * end where it would have begun, as a SCHEDULED plan ended before its start does: invoicing takes a
 * subscription event as the plan held over [startsAt, endsAt) (read-model `recordSubscriptionState`)
 * and bills a postpaid line's recurring fee for those days. Before, the PENDING subscription ended at
 * the cancellation, so its ENDED event said the line had held the plan from its order to its
 * cancellation, and the customer was billed for days of a line that never worked.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { id status failureCode } } }`;
const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id status } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { status } } }`;
const SUBSCRIPTIONS = `query($id: ID!) { line(id: $id) { status subscriptions { id status startsAt endsAt } } }`;

/** The subscription events of `subscriptionId` in the outbox (what the relay publishes to invoicing and wallets), oldest first. */
async function subscriptionEvents(subscriptionId: string) {
  const rows = await h.rows<{ subject: string; payload: string }>(
    `select subject, payload from outbox where subject in ('billing.subscribers.subscription.created', 'billing.subscribers.subscription.changed') and payload like $1 order by seq`,
    [`%${subscriptionId}%`],
  );
  return rows.map((r) => ({ subject: r.subject, data: (JSON.parse(r.payload) as { data: { status: string; startsAt: string; endsAt: string | null } }).data }));
}

describe('cancelling a line that never went live', () => {
  it('ends its PENDING plan where it would have begun: held for no time, on the row and in the ENDED event', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await openAccount(h, 'POSTPAID', 'Never Live', 'never-live@example.org');
    const msisdn = '+4915127990001';
    h.sandbox.behave('NEW_LINE', msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const ordered = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn, planCode: 'POSTPAID_20GB' } })).addLine;
    expect(ordered.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    expect(ordered.line.status).toBe('PENDING');
    h.sandbox.behave('NEW_LINE', msisdn, null);

    // A week later the agent cancels the line.
    h.clock.set('2026-11-23T09:30:00Z');
    expect((await gql(TERMINATE, { i: { lineId: ordered.line.id } })).terminateLine).toMatchObject({ line: { status: 'TERMINATED' }, order: { status: 'COMPLETED' } });

    const line = (await gql(SUBSCRIPTIONS, { id: ordered.line.id })).line;
    expect(line.subscriptions).toHaveLength(1);
    const sub = line.subscriptions[0];
    expect(sub).toMatchObject({ status: 'ENDED', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-11-16T10:00:00.000Z' });

    const events = await subscriptionEvents(sub.id);
    const ended = events.filter((e) => e.data.status === 'ENDED');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.data.endsAt).toBe(ended[0]!.data.startsAt);
    // No event ever said the plan was in force.
    expect(events.some((e) => e.data.status === 'ACTIVE')).toBe(false);
  });

  it('the same for a plan subscribed while the line was PENDING', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await openAccount(h, 'POSTPAID', 'Never Live Two', 'never-live-2@example.org');
    const msisdn = '+4915127990002';
    h.sandbox.behave('NEW_LINE', msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const ordered = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn } })).addLine;
    expect(ordered.order.status).toBe('FAILED');
    h.sandbox.behave('NEW_LINE', msisdn, null);
    h.clock.set('2026-11-17T12:00:00Z');
    const subscribed = (await gql(SUBSCRIBE, { i: { lineId: ordered.line.id, planCode: 'POSTPAID_20GB' } })).subscribe.subscription;
    expect(subscribed.status).toBe('PENDING');

    h.clock.set('2026-11-27T08:00:00Z');
    await gql(TERMINATE, { i: { lineId: ordered.line.id } });
    const sub = (await gql(SUBSCRIPTIONS, { id: ordered.line.id })).line.subscriptions[0];
    expect(sub).toMatchObject({ id: subscribed.id, status: 'ENDED', startsAt: '2026-11-17T12:00:00.000Z', endsAt: '2026-11-17T12:00:00.000Z' });
    const ended = (await subscriptionEvents(subscribed.id)).filter((e) => e.data.status === 'ENDED');
    expect(ended.map((e) => [e.data.startsAt, e.data.endsAt])).toEqual([['2026-11-17T12:00:00.000Z', '2026-11-17T12:00:00.000Z']]);
  });

  it('a live line terminated still holds its plan until the termination', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await openAccount(h, 'POSTPAID', 'Was Live', 'was-live@example.org');
    const ordered = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915127990003', planCode: 'POSTPAID_20GB' } })).addLine;
    expect(ordered.order.status).toBe('COMPLETED');
    h.clock.set('2026-11-20T10:00:00Z');
    await gql(TERMINATE, { i: { lineId: ordered.line.id } });
    const sub = (await gql(SUBSCRIPTIONS, { id: ordered.line.id })).line.subscriptions[0];
    expect(sub).toMatchObject({ status: 'ENDED', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-11-20T10:00:00.000Z' });
  });
});
