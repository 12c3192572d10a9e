/**
 * A billing account may be assigned to a partner (2027-01-27): an MVNO's customers are that MVNO's.
 *
 * Which lines a PARTNER may charge online was not modelled (usage's `chargingSession` let any partner
 * reserve and charge any customer's line). Staff now give `partnerId` when they open the account; it is on
 * `BillingAccount.partnerId` and on billingaccount.created, from which usage learns which accounts' lines the
 * partner may charge (services/usage/test/session-partner-lines.test.ts). A child account is its parent's
 * partner's too. Absent: the operator's own customer, no partner's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id partnerId parentAccount { id } } } }`;

async function customer(): Promise<string> {
  const r = await h.subscribers.request<any>(CREATE_CUSTOMER, { i: { name: 'Mia Roth', kind: 'INDIVIDUAL', email: 'mia@example.org', timezone: 'Europe/Berlin' } });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createCustomer.customer.id;
}

async function open(i: Record<string, unknown>) {
  return h.subscribers.request<any>(OPEN_ACCOUNT, { i: { paymentMode: 'POSTPAID', currency: 'EUR', ...i } });
}

async function createdEvent(accountId: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.billingaccount.created' and payload like $1`, [`%${accountId}%`]);
  return JSON.parse(rows[0]!.payload).data;
}

describe("a billing account's partner", () => {
  it('is given when the account is opened, read on the account and carried on billingaccount.created', async () => {
    const customerId = await customer();
    const res = await open({ customerId, partnerId: 'mvno-a' });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const account = res.data.openBillingAccount.billingAccount;
    expect(account.partnerId).toBe('mvno-a');
    expect(await createdEvent(account.id)).toMatchObject({ billingAccountId: account.id, customerId, partnerId: 'mvno-a' });
    const read = await h.subscribers.request<any>('query($id: ID!) { billingAccount(id: $id) { partnerId } }', { id: account.id });
    expect(read.data.billingAccount.partnerId).toBe('mvno-a');

    // Without one: the operator's own customer.
    const own = (await open({ customerId })).data.openBillingAccount.billingAccount;
    expect(own.partnerId).toBeNull();
    expect(await createdEvent(own.id)).toMatchObject({ billingAccountId: own.id, partnerId: null });
  });

  it("a child account is its parent's partner's: taken from the parent, another one refused", async () => {
    const customerId = await customer();
    const parent = (await open({ customerId, partnerId: 'mvno-a' })).data.openBillingAccount.billingAccount;
    const child = (await open({ customerId, parentAccountId: parent.id })).data.openBillingAccount.billingAccount;
    expect(child).toMatchObject({ partnerId: 'mvno-a', parentAccount: { id: parent.id } });
    expect(await createdEvent(child.id)).toMatchObject({ partnerId: 'mvno-a' });
    expect((await open({ customerId, parentAccountId: parent.id, partnerId: 'mvno-a' })).data.openBillingAccount.billingAccount.partnerId).toBe('mvno-a');

    const other = await open({ customerId, parentAccountId: parent.id, partnerId: 'mvno-b' });
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId', reason: 'PARENT_ACCOUNT_OTHER_PARTNER' });
    const ownParent = (await open({ customerId })).data.openBillingAccount.billingAccount;
    const underOwn = await open({ customerId, parentAccountId: ownParent.id, partnerId: 'mvno-b' });
    expect(underOwn.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId', reason: 'PARENT_ACCOUNT_OTHER_PARTNER' });
  });

  it('a blank, over-long or NUL-holding partnerId is bad input naming the field', async () => {
    const customerId = await customer();
    for (const partnerId of ['', '   ', 'x'.repeat(101), 'mvno\u0000a', ' mvno-a']) {
      const res = await open({ customerId, partnerId });
      expect(res.errors?.[0]?.extensions, JSON.stringify(partnerId)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId' });
    }
    expect((await open({ customerId, partnerId: 'x'.repeat(100) })).data.openBillingAccount.billingAccount.partnerId).toBe('x'.repeat(100));
  });
});
