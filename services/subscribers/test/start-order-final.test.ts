import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

/**
 * `startOrder` is the first step of the order workflow and is retried (an activity whose answer
 * was lost, a workflow started again for an order already fulfilled). On an order that is already
 * COMPLETED or FAILED it must answer with the order as it is, changing nothing (no event), so the
 * workflow ends with that outcome instead of failing on ORDER_ILLEGAL_TRANSITION.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const START = `mutation($i: OrderStepInput!) { startOrder(input: $i) { order { id status failureCode } } }`;

async function account(): Promise<string> {
  const c = await h.ok(`mutation { createCustomer(input: { name: "Retry Rita", kind: INDIVIDUAL }) { customer { id } } }`, {});
  const a = await h.ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: c.createCustomer.customer.id });
  return a.openBillingAccount.billingAccount.id;
}

async function orderEvents(orderId: string): Promise<number> {
  const rows = await h.rows(`select id from outbox where subject = 'billing.subscribers.productorder.statechanged' and payload like $1`, [`%${orderId}%`]);
  return rows.length;
}

describe('startOrder on an order already final', () => {
  it('answers the COMPLETED order as it is, with no new event', async () => {
    const placed = await h.ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123777001" }) { order { id status } } }`, { a: await account() });
    expect(placed.addLine.order.status).toBe('COMPLETED');
    const orderId = placed.addLine.order.id as string;
    const events = await orderEvents(orderId);

    const r = await h.subscribers.request(START, { i: { orderId } });
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data).toEqual({ startOrder: { order: { id: orderId, status: 'COMPLETED', failureCode: null } } });
    expect(await orderEvents(orderId)).toBe(events);
  });

  it('answers the FAILED order as it is, with its failure code', async () => {
    h.sandbox.behave('NEW_LINE', '+4915123777002', { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const placed = await h.ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123777002" }) { order { id status } } }`, { a: await account() });
    expect(placed.addLine.order.status).toBe('FAILED');
    const orderId = placed.addLine.order.id as string;
    const events = await orderEvents(orderId);

    const r = await h.subscribers.request(START, { i: { orderId } });
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data).toEqual({ startOrder: { order: { id: orderId, status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' } } });
    expect(await orderEvents(orderId)).toBe(events);
  });
});
