import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { scrapeMetrics } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';

/**
 * An activation that failed after the network applied it (an order failed IN_PROGRESS: its undo not confirmed, the
 * in-process saga's compensation refused, a workflow ended mid-provisioning) holds its number back from other
 * customers until someone confirms the network undone (session 31, 32; docs/operations.md told staff to check the
 * provisioning system). Only the workflow's `failOrder networkUndone` (SYSTEM) could record that: staff who undid it
 * by hand had no way to say so, the number stayed held back for the whole quarantine, and nothing showed how many
 * numbers were waiting, or for how long. Now `confirmOrderNetworkUndone` (staff: agents and admins) records it, who
 * and why (the order's `networkUndoneAt/By/Note`), once; the gauges
 * `ledgerline_subscribers_orders_awaiting_network_undo(_oldest_seconds)` count those still waiting.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(async () => {
  await h?.close();
});

const AGENT: Caller = { role: 'AGENT', subject: 'agent-anna', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'admin-otto', scopes: [] };
const number = (n: number) => `+49158${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${n}${n}`;

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id msisdn status } order { id status } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } } }`;
const CONFIRM = `mutation($i: ConfirmOrderNetworkUndoneInput!) { confirmOrderNetworkUndone(input: $i) { order { id status networkUndoneAt networkUndoneBy networkUndoneNote } } }`;
const ORDER = `query($id: ID!) { productOrder(id: $id) { id networkUndoneAt networkUndoneBy networkUndoneNote } }`;

async function account(name: string): Promise<{ customerId: string; accountId: string }> {
  const customerId = (await h.ok(CREATE_CUSTOMER, { i: { name, kind: 'INDIVIDUAL' } }, ADMIN)).createCustomer.customer.id as string;
  const accountId = (await h.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } }, ADMIN)).openBillingAccount.billingAccount.id as string;
  return { customerId, accountId };
}

/** A line on `msisdn` whose NEW_LINE the network applied and then failed, its undo refused by a network outage; cancelled an hour later. */
async function cancelledHalfActivatedLine(accountId: string, msisdn: string): Promise<{ lineId: string; orderId: string }> {
  h.sandbox.behave('NEW_LINE', msisdn, { mode: 'fail-after-apply' });
  const compensate = h.sandbox.compensate.bind(h.sandbox);
  h.sandbox.compensate = async () => {
    throw new Error('provisioning system unavailable (sandbox outage)');
  };
  try {
    await h.subscribers.request(ADD_LINE, { i: { billingAccountId: accountId, msisdn } }, ADMIN);
  } finally {
    h.sandbox.compensate = compensate;
    h.sandbox.behave('NEW_LINE', msisdn, null);
  }
  const [row] = await h.rows<{ line_id: string; id: string; status: string; network_undone_at: Date | null }>(
    `select o.line_id, o.id, o.status, o.network_undone_at from product_order o join line l on l.id = o.line_id where l.msisdn = $1 and o.kind = 'NEW_LINE'`,
    [msisdn],
  );
  expect({ status: row!.status, undone: row!.network_undone_at }).toEqual({ status: 'FAILED', undone: null });
  h.clock.set(new Date(h.clock.now().getTime() + 3_600_000).toISOString());
  expect((await h.ok(TERMINATE, { i: { lineId: row!.line_id } }, ADMIN)).terminateLine.line.status).toBe('TERMINATED');
  return { lineId: row!.line_id, orderId: row!.id };
}

const problem = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => {
  const e = r.errors?.[0]?.extensions;
  return e ? { code: e.code, reason: e.reason ?? null, field: e.field ?? null } : null;
};

describe('staff confirm a failed order undone at the network (confirmOrderNetworkUndone)', () => {
  it('releases the held-back number, records who, when and why, once; the gauges go down', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const msisdn = number(1);
    const { orderId } = await cancelledHalfActivatedLine((await account('Hanna Held')).accountId, msisdn);
    const next = await account('Nils Next');
    const refused = await h.subscribers.request(ADD_LINE, { i: { billingAccountId: next.accountId, msisdn } }, ADMIN);
    expect(problem(refused)).toEqual({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', field: 'input.msisdn' });

    // A day and a half after the failure: waiting (the alert's threshold is a day).
    h.clock.set('2026-11-17T22:00:00Z');
    const waiting = await scrapeMetrics(h.subscribers);
    expect(waiting['ledgerline_subscribers_orders_awaiting_network_undo']).toBeGreaterThanOrEqual(1);
    expect(waiting['ledgerline_subscribers_orders_awaiting_network_undo_oldest_seconds']).toBeGreaterThanOrEqual(36 * 3600);

    const confirmed = (await h.ok(CONFIRM, { i: { orderId, note: '  HLR ticket 4711: subscriber deleted by hand ' } }, AGENT)).confirmOrderNetworkUndone.order;
    expect(confirmed).toEqual({ id: orderId, status: 'FAILED', networkUndoneAt: '2026-11-17T22:00:00.000Z', networkUndoneBy: 'AGENT:agent-anna', networkUndoneNote: 'HLR ticket 4711: subscriber deleted by hand' });

    // Again (a retry, another agent): answered as first confirmed, nothing changed.
    h.clock.set('2026-11-17T23:00:00Z');
    const again = (await h.ok(CONFIRM, { i: { orderId, note: 'done too' } }, ADMIN)).confirmOrderNetworkUndone.order;
    expect(again).toEqual(confirmed);

    const given = (await h.ok(ADD_LINE, { i: { billingAccountId: next.accountId, msisdn } }, ADMIN)).addLine;
    expect(given.line).toMatchObject({ msisdn, status: 'ACTIVE' });
    const after = await scrapeMetrics(h.subscribers);
    expect(after['ledgerline_subscribers_orders_awaiting_network_undo']).toBe(waiting['ledgerline_subscribers_orders_awaiting_network_undo']! - 1);
  });

  it('refuses customers, partners and the workflows, bad input naming the field, an unknown order, and an order not waiting for it', async () => {
    h.clock.set('2026-11-18T10:00:00Z');
    const holder = await account('Carla Customer');
    const { orderId } = await cancelledHalfActivatedLine(holder.accountId, number(2));
    const me: Caller = { role: 'CUSTOMER', subject: holder.customerId, customerId: holder.customerId, scopes: [] };
    const PARTNER: Caller = { role: 'PARTNER', subject: 'crm', partnerId: 'crm', scopes: [] };
    const live = (await h.ok(ADD_LINE, { i: { billingAccountId: holder.accountId, msisdn: number(3) } }, ADMIN)).addLine.order.id as string;

    const asked = {
      customer: problem(await h.subscribers.request(CONFIRM, { i: { orderId, note: 'I did it' } }, me)),
      partner: problem(await h.subscribers.request(CONFIRM, { i: { orderId, note: 'we did it' } }, PARTNER)),
      system: problem(await h.subscribers.request(CONFIRM, { i: { orderId, note: 'workflow' } })), // the workflow reports with failOrder
      noNote: problem(await h.subscribers.request(CONFIRM, { i: { orderId, note: '   ' } }, AGENT)),
      longNote: problem(await h.subscribers.request(CONFIRM, { i: { orderId, note: 'x'.repeat(501) } }, AGENT)),
      noOrder: problem(await h.subscribers.request(CONFIRM, { i: { orderId: ' ', note: 'ticket 1' } }, AGENT)),
      unknown: problem(await h.subscribers.request(CONFIRM, { i: { orderId: 'ord_doesnotexist', note: 'ticket 1' } }, AGENT)),
      completed: problem(await h.subscribers.request(CONFIRM, { i: { orderId: live, note: 'ticket 1' } }, AGENT)),
    };
    expect(asked).toEqual({
      customer: { code: 'FORBIDDEN', reason: 'FORBIDDEN', field: null },
      partner: { code: 'FORBIDDEN', reason: 'FORBIDDEN', field: null },
      system: { code: 'FORBIDDEN', reason: 'FORBIDDEN', field: null },
      noNote: { code: 'BAD_USER_INPUT', reason: 'NOTE_REQUIRED', field: 'input.note' },
      longNote: { code: 'BAD_USER_INPUT', reason: 'NOTE_TOO_LONG', field: 'input.note' },
      noOrder: { code: 'BAD_USER_INPUT', reason: 'ORDER_ID_REQUIRED', field: 'input.orderId' },
      unknown: { code: 'NOT_FOUND', reason: 'ORDER_NOT_FOUND', field: 'input.orderId' },
      completed: { code: 'CONFLICT', reason: 'ORDER_NOT_AWAITING_NETWORK_UNDO', field: 'input.orderId' },
    });
    // Nothing recorded by the refusals; the customer reads neither who nor why.
    expect((await h.ok(ORDER, { id: orderId }, me)).productOrder).toEqual({ id: orderId, networkUndoneAt: null, networkUndoneBy: null, networkUndoneNote: null });
    await h.ok(CONFIRM, { i: { orderId, note: 'ticket 2' } }, ADMIN);
    expect((await h.ok(ORDER, { id: orderId }, me)).productOrder).toEqual({ id: orderId, networkUndoneAt: '2026-11-18T11:00:00.000Z', networkUndoneBy: null, networkUndoneNote: null });
  });
});
