/**
 * A billing account's partner is assigned, changed or cleared later (2027-01-29).
 *
 * Since 2027-01-27 an account is a partner's (an MVNO's) when staff open it with `partnerId`, and usage lets only
 * that partner charge its lines online. There was no way to give a partner to an account opened before (every
 * account of the deployment is no partner's, so no partner could charge any of their lines) or to move a customer
 * from one MVNO to another, or back to the operator. `updateBillingAccount` now takes `partnerId` (staff only; null
 * clears it): validated as at open, idempotent (the same partner again changes nothing and emits nothing), audited
 * (`partnerChanges`: who, when, from, to), and announced on billingaccount.changed with the account's customerId,
 * partnerId and `partnerVersion` (one more per change), from which usage follows it whatever order the events come in
 * (services/usage/test/session-partner-reassigned.test.ts). A hierarchy stays one partner's: a parent's new partner
 * is its children's (each announced), a child cannot take another partner than its parent's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const AGENT: Caller = { role: 'AGENT', subject: 'agent-7', scopes: [] };
const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id partnerId } } }`;
const UPDATE = `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { changed billingAccount { id partnerId } } }`;
const CHANGES = `query($id: ID!) { billingAccount(id: $id) { partnerId partnerChanges { partnerId previousPartnerId partnerVersion changedAt changedBy changedByRole viaAccountId } } }`;

async function customer(): Promise<string> {
  const r = await h.subscribers.request<any>(CREATE_CUSTOMER, { i: { name: 'Mia Roth', kind: 'INDIVIDUAL', email: 'mia@example.org', timezone: 'Europe/Berlin' } });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createCustomer.customer.id;
}

async function open(i: Record<string, unknown>): Promise<string> {
  const r = await h.subscribers.request<any>(OPEN_ACCOUNT, { i: { paymentMode: 'POSTPAID', currency: 'EUR', ...i } });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.openBillingAccount.billingAccount.id;
}

function update(billingAccountId: string, partnerId: string | null, caller: Caller = AGENT) {
  return h.subscribers.request<any>(UPDATE, { i: { billingAccountId, partnerId } }, caller);
}

/** The account's billingaccount.changed events' data, oldest first. */
async function changedEvents(accountId: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.billingaccount.changed' and payload like $1 order by seq`, [`%"billingAccountId":"${accountId}"%`]);
  return rows.map((r) => JSON.parse(r.payload).data);
}

/** Accounts opened as they were before partners existed: no partner. */
async function oldAccount(customerId: string): Promise<string> {
  return open({ customerId });
}

describe("a billing account's partner, assigned or changed after it was opened", () => {
  it('staff assign a partner to an account opened without one, change it and clear it; each change announced with a higher partnerVersion', async () => {
    const customerId = await customer();
    const account = await oldAccount(customerId);

    const assigned = await update(account, 'mvno-a');
    expect(assigned.errors, JSON.stringify(assigned.errors)).toBeUndefined();
    expect(assigned.data.updateBillingAccount).toEqual({ changed: ['partnerId'], billingAccount: { id: account, partnerId: 'mvno-a' } });

    // The same partner again: nothing changes, nothing is announced (idempotent).
    const again = await update(account, 'mvno-a');
    expect(again.data.updateBillingAccount.changed).toEqual([]);

    h.clock.advance(60_000);
    expect((await update(account, 'mvno-b')).data.updateBillingAccount).toEqual({ changed: ['partnerId'], billingAccount: { id: account, partnerId: 'mvno-b' } });
    // Two changes at the same instant (a fixed clock): still told apart by their version.
    expect((await update(account, null)).data.updateBillingAccount).toEqual({ changed: ['partnerId'], billingAccount: { id: account, partnerId: null } });
    expect((await update(account, null)).data.updateBillingAccount.changed).toEqual([]);

    const events = await changedEvents(account);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ billingAccountId: account, customerId, partnerId: 'mvno-a', partnerVersion: 1, changed: ['partnerId'] });
    expect(events[1]).toMatchObject({ billingAccountId: account, customerId, partnerId: 'mvno-b', partnerVersion: 2, changed: ['partnerId'] });
    expect(events[2]).toMatchObject({ billingAccountId: account, customerId, partnerId: null, partnerVersion: 3, changed: ['partnerId'] });

    // Audited: who, when, from what to what (newest first).
    const read = await h.ok(CHANGES, { id: account });
    expect(read.billingAccount.partnerId).toBeNull();
    expect(read.billingAccount.partnerChanges).toEqual([
      { partnerId: null, previousPartnerId: 'mvno-b', partnerVersion: 3, changedAt: '2026-11-16T10:01:00.000Z', changedBy: 'agent-7', changedByRole: 'AGENT', viaAccountId: null },
      { partnerId: 'mvno-b', previousPartnerId: 'mvno-a', partnerVersion: 2, changedAt: '2026-11-16T10:01:00.000Z', changedBy: 'agent-7', changedByRole: 'AGENT', viaAccountId: null },
      { partnerId: 'mvno-a', previousPartnerId: null, partnerVersion: 1, changedAt: '2026-11-16T10:00:00.000Z', changedBy: 'agent-7', changedByRole: 'AGENT', viaAccountId: null },
    ]);
  });

  it('other billingaccount.changed events carry the partner as it is, with its version', async () => {
    const customerId = await customer();
    const account = await open({ customerId, partnerId: 'mvno-a' });
    const r = await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: account, creditLimit: '50' } });
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect((await changedEvents(account))[0]).toMatchObject({ billingAccountId: account, customerId, partnerId: 'mvno-a', partnerVersion: 0, changed: ['creditLimit'] });
  });

  it("only staff change it; the customer is refused, the account unchanged; a bad partnerId is bad input naming the field", async () => {
    const customerId = await customer();
    const account = await oldAccount(customerId);
    const byCustomer = await update(account, 'mvno-a', { role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });
    expect(byCustomer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const byPartner = await update(account, 'mvno-a', { role: 'PARTNER', subject: 'mvno-a', partnerId: 'mvno-a', scopes: [] });
    expect(byPartner.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const partnerId of ['', '   ', 'x'.repeat(101), 'mvno\u0000a', ' mvno-a']) {
      const res = await update(account, partnerId);
      expect(res.errors?.[0]?.extensions, JSON.stringify(partnerId)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId', reason: 'PARTNER_ID_INVALID' });
    }
    expect((await h.ok(CHANGES, { id: account })).billingAccount).toEqual({ partnerId: null, partnerChanges: [] });
    expect(await changedEvents(account)).toEqual([]);
  });

  it("a hierarchy stays one partner's: the parent's new partner is its children's and grandchildren's; a child cannot diverge", async () => {
    const customerId = await customer();
    const parent = await oldAccount(customerId);
    const child = await open({ customerId, parentAccountId: parent });
    const grandchild = await open({ customerId, parentAccountId: child });
    const other = await oldAccount(customerId);

    const diverging = await update(child, 'mvno-a');
    expect(diverging.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId', reason: 'PARENT_ACCOUNT_OTHER_PARTNER' });

    expect((await update(parent, 'mvno-a')).data.updateBillingAccount.changed).toEqual(['partnerId']);
    for (const id of [child, grandchild]) {
      const read = (await h.ok(CHANGES, { id })).billingAccount;
      expect(read.partnerId, id).toBe('mvno-a');
      expect(read.partnerChanges, id).toEqual([expect.objectContaining({ partnerId: 'mvno-a', previousPartnerId: null, partnerVersion: 1, changedBy: 'agent-7', viaAccountId: parent })]);
      expect(await changedEvents(id), id).toEqual([expect.objectContaining({ billingAccountId: id, customerId, partnerId: 'mvno-a', partnerVersion: 1, changed: ['partnerId'] })]);
    }
    expect((await h.ok(CHANGES, { id: other })).billingAccount.partnerId).toBeNull();

    // The child given its parent's partner: nothing to change. Another: refused, nothing changed.
    expect((await update(child, 'mvno-a')).data.updateBillingAccount.changed).toEqual([]);
    const away = await update(grandchild, null);
    expect(away.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId', reason: 'PARENT_ACCOUNT_OTHER_PARTNER' });
    expect((await h.ok(CHANGES, { id: grandchild })).billingAccount.partnerId).toBe('mvno-a');

    // A child opened afterwards takes the new partner.
    expect((await h.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', parentAccountId: parent } })).openBillingAccount.billingAccount.partnerId).toBe('mvno-a');
  });

  it('a closed account is refused ACCOUNT_CLOSED', async () => {
    const customerId = await customer();
    const account = await oldAccount(customerId);
    await h.ok(`mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { status } } }`, { i: { billingAccountId: account, reason: 'left', idempotencyKey: `close-${account}` } });
    const res = await update(account, 'mvno-a');
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED' });
  });
});
