// `billingAccounts(first, after, filter: { paymentMode, status })`: billing accounts in id order as a
// Relay connection, for staff (the worker's bill-cycle backfill lists every open postpaid account
// with it, workflows/src/bill-cycle-backfill.ts). Before, accounts could only be read one by one or
// through their customer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function open(paymentMode: 'PREPAID' | 'POSTPAID'): Promise<string> {
  const c = (await h.ok(`mutation { createCustomer(input: { name: "Lia List", kind: INDIVIDUAL }) { customer { id } } }`, {})).createCustomer.customer.id as string;
  return (await h.ok(`mutation($c: ID!, $m: PaymentMode!) { openBillingAccount(input: { customerId: $c, paymentMode: $m, currency: "EUR" }) { billingAccount { id } } }`, { c, m: paymentMode }))
    .openBillingAccount.billingAccount.id as string;
}

const LIST = `query($first: Int, $after: String, $f: BillingAccountFilter) {
  billingAccounts(first: $first, after: $after, filter: $f) { totalCount edges { cursor node { id paymentMode status } } pageInfo { hasNextPage endCursor } }
}`;

describe('billingAccounts', () => {
  it('pages through the accounts in id order, filtered by payment mode and status; staff only', async () => {
    const post = [await open('POSTPAID'), await open('POSTPAID'), await open('POSTPAID')];
    const pre = await open('PREPAID');
    const closed = await open('POSTPAID');
    h.clock.advance(1000);
    await h.ok(`mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { status } } }`, { i: { billingAccountId: closed, reason: 'Leaving', idempotencyKey: 'close-1' } });

    const all = (await h.ok(LIST, { first: 50 })).billingAccounts;
    expect(all.totalCount).toBe(5);
    expect(all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([...post, pre, closed].sort());

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const c: any = (await h.ok(LIST, { first: 2, after, f: { paymentMode: 'POSTPAID', status: 'OPEN' } })).billingAccounts;
      expect(c.totalCount).toBe(3);
      seen.push(...c.edges.map((e: { node: { id: string; paymentMode: string; status: string } }) => (expect(e.node).toMatchObject({ paymentMode: 'POSTPAID', status: 'OPEN' }), e.node.id)));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(seen).toEqual([...post].sort());
    expect((await h.ok(LIST, { f: { status: 'CLOSED' } })).billingAccounts.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([closed]);
    expect((await h.ok(LIST, { f: { paymentMode: 'PREPAID' } })).billingAccounts.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([pre]);

    const customerId = 'cus_x';
    const r = await h.subscribers.request(LIST, {}, { role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
