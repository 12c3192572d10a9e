/**
 * The audit trail of a billing account's terms (2027-01-31).
 *
 * Only the partner was audited (`billing_account_partner_change`, 2027-01-29): who raised a credit limit from 500 to
 * 5000 EUR, who put on or took off an autopay token, who opened or closed an account, and when, could not be
 * answered. Every change `openBillingAccount`, `updateBillingAccount` and `closeBillingAccount` make is now a row of
 * `billing_account_change` (field, old and new value, who and as what role, when, the request), written in the
 * transaction of the change, none for a change that changes nothing; an autopay token is recorded by a short
 * fingerprint only. Staff read it as `BillingAccount.changes` (Relay, newest first, by field); the account's customer
 * reads their own account's, without staff identities; another customer's account answers as an unknown one.
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
const ADMIN: Caller = { role: 'ADMIN', subject: 'admin-2', scopes: [] };
const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const UPDATE = `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { changed billingAccount { id autopay creditLimit { amount } } } }`;
const CLOSE = `mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { status } } }`;
const NODE = `field oldValue newValue changedAt changedBy changedByRole viaAccountId reason requestKey`;
const CHANGES = `query($id: ID!, $first: Int, $after: String, $field: BillingAccountChangeField) { billingAccount(id: $id) { changes(first: $first, after: $after, field: $field) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { ${NODE} } } } } }`;

const TOKEN_1 = 'tok_visa_4Xk29fLq';
const TOKEN_2 = 'tok_mc_9Hd72kPq';

async function customer(): Promise<{ customerId: string; me: Caller }> {
  const r = await h.subscribers.request<any>(CREATE_CUSTOMER, { i: { name: 'Ada Weber', kind: 'INDIVIDUAL', email: 'ada@example.org', timezone: 'Europe/Berlin' } });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  const customerId = r.data.createCustomer.customer.id;
  return { customerId, me: { role: 'CUSTOMER', subject: `user-${customerId}`, customerId, scopes: [] } };
}

async function open(i: Record<string, unknown>, caller: Caller = AGENT): Promise<string> {
  const r = await h.subscribers.request<any>(OPEN_ACCOUNT, { i: { paymentMode: 'POSTPAID', currency: 'EUR', ...i } }, caller);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.openBillingAccount.billingAccount.id;
}

async function update(i: Record<string, unknown>, caller: Caller = AGENT): Promise<string[]> {
  const r = await h.subscribers.request<any>(UPDATE, { i }, caller);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.updateBillingAccount.changed;
}

/** The account's changes as `caller` reads them (staff by default), newest first. */
async function changes(id: string, args: { field?: string; first?: number; after?: string } = {}, caller: Caller = AGENT) {
  const r = await h.subscribers.request<any>(CHANGES, { id, ...args }, caller);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.billingAccount?.changes ?? null;
}
const nodes = async (id: string, args: { field?: string } = {}, caller?: Caller) => (await changes(id, args, caller)).edges.map((e: { node: unknown }) => e.node);

/** Every stored audit row of the account, as the database has it. */
const stored = (id: string) => h.rows<Record<string, unknown>>(`select * from billing_account_change where billing_account_id = $1 order by seq`, [id]);

describe('the audit trail of a billing account', () => {
  it('records who opened the account with which credit limit, and each credit limit change with its old and new value and the actor; the same limit again records nothing', async () => {
    const { customerId } = await customer();
    const account = await open({ customerId, creditLimit: '500.00' });
    h.clock.advance(60_000);
    expect(await update({ billingAccountId: account, creditLimit: '5000' }, ADMIN)).toEqual(['creditLimit']);
    // The same limit, written otherwise: nothing changes, nothing is recorded.
    expect(await update({ billingAccountId: account, creditLimit: '5000.00' }, AGENT)).toEqual([]);
    h.clock.advance(60_000);
    // Lifted (no limit).
    expect(await update({ billingAccountId: account, creditLimit: null }, AGENT)).toEqual(['creditLimit']);
    expect(await update({ billingAccountId: account, creditLimit: null }, AGENT)).toEqual([]);

    const limits = await nodes(account, { field: 'CREDIT_LIMIT' });
    expect(limits).toEqual([
      { field: 'CREDIT_LIMIT', oldValue: '5000', newValue: null, changedAt: '2026-11-16T10:02:00.000Z', changedBy: 'agent-7', changedByRole: 'AGENT', viaAccountId: null, reason: null, requestKey: expect.any(String) },
      { field: 'CREDIT_LIMIT', oldValue: '500', newValue: '5000', changedAt: '2026-11-16T10:01:00.000Z', changedBy: 'admin-2', changedByRole: 'ADMIN', viaAccountId: null, reason: null, requestKey: expect.any(String) },
      { field: 'CREDIT_LIMIT', oldValue: null, newValue: '500', changedAt: '2026-11-16T10:00:00.000Z', changedBy: 'agent-7', changedByRole: 'AGENT', viaAccountId: null, reason: null, requestKey: expect.any(String) },
    ]);
    // Every field, newest first: the account was opened (STATUS) in the request that gave it its first limit.
    const all = await nodes(account);
    expect(all.map((c: { field: string; newValue: string | null }) => [c.field, c.newValue])).toEqual([
      ['CREDIT_LIMIT', null],
      ['CREDIT_LIMIT', '5000'],
      ['CREDIT_LIMIT', '500'],
      ['STATUS', 'OPEN'],
    ]);
    expect(all[3]).toMatchObject({ oldValue: null, changedBy: 'agent-7', changedByRole: 'AGENT' });
    expect(all[2].requestKey).toBe(all[3].requestKey);
    expect(new Set(all.slice(0, 3).map((c: { requestKey: string }) => c.requestKey)).size).toBe(3);
    expect((await stored(account)).map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
  });

  it('writes the rows in the transaction of the change: a call refused for one field records nothing for the others', async () => {
    const { customerId } = await customer();
    const account = await open({ customerId, creditLimit: '300' });
    const before = await stored(account);
    const r = await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: account, creditLimit: '999', autopayToken: 'x' } }, AGENT);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.autopayToken' });
    expect(await stored(account)).toEqual(before);
    // A closed account refuses a new limit: nothing recorded either.
    await h.ok(CLOSE, { i: { billingAccountId: account, reason: 'moved abroad', idempotencyKey: `close-${account}` } }, AGENT);
    const closed = await stored(account);
    const refused = await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: account, creditLimit: '999' } }, AGENT);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED' });
    expect(await stored(account)).toEqual(closed);
  });

  it('records an autopay token set, replaced and removed (by staff or the customer) without the token: a short fingerprint at most', async () => {
    const { customerId, me } = await customer();
    const account = await open({ customerId, autopayToken: TOKEN_1 });
    expect(await update({ billingAccountId: account, autopayToken: TOKEN_2 }, me)).toEqual(['autopay']);
    expect(await update({ billingAccountId: account, autopayToken: TOKEN_2 }, me)).toEqual([]);
    expect(await update({ billingAccountId: account, autopayToken: null }, me)).toEqual(['autopay']);
    expect(await update({ billingAccountId: account, autopayToken: TOKEN_1 }, AGENT)).toEqual(['autopay']);

    const autopay = await nodes(account, { field: 'AUTOPAY' });
    expect(autopay.map((c: Record<string, unknown>) => [c.oldValue === null ? null : 'fp', c.newValue === null ? null : 'fp', c.changedByRole])).toEqual([
      [null, 'fp', 'AGENT'],
      ['fp', null, 'CUSTOMER'],
      ['fp', 'fp', 'CUSTOMER'],
      [null, 'fp', 'AGENT'],
    ]);
    const fp1 = autopay[3].newValue;
    const fp2 = autopay[2].newValue;
    expect(fp1).toMatch(/^sha256:[0-9a-f]{8}$/);
    expect(autopay[2].oldValue).toBe(fp1);
    expect(fp2).not.toBe(fp1);
    expect(autopay[1].oldValue).toBe(fp2);
    expect(autopay[0].newValue).toBe(fp1);
    // The token is nowhere in the trail: not in the answer, not in a stored row.
    const everything = JSON.stringify([autopay, await stored(account)]);
    for (const token of [TOKEN_1, TOKEN_2]) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.slice(-8));
    }
  });

  it("closing is recorded with its reason and key; a repeated close records nothing; a child that follows its parent's partner points at the parent and shares its request", async () => {
    const { customerId } = await customer();
    const parent = await open({ customerId });
    const child = await open({ customerId, parentAccountId: parent });
    expect(await update({ billingAccountId: parent, partnerId: 'mvno-a' })).toEqual(['partnerId']);
    const [parentPartner] = await nodes(parent, { field: 'PARTNER' });
    const [childPartner] = await nodes(child, { field: 'PARTNER' });
    expect(parentPartner).toMatchObject({ oldValue: null, newValue: 'mvno-a', changedBy: 'agent-7', viaAccountId: null });
    expect(childPartner).toMatchObject({ oldValue: null, newValue: 'mvno-a', changedBy: 'agent-7', viaAccountId: parent, requestKey: parentPartner.requestKey });
    // partnerChanges still answers from the same trail.
    expect((await h.ok(`query($id: ID!) { billingAccount(id: $id) { partnerChanges { partnerId previousPartnerId partnerVersion changedBy viaAccountId } } }`, { id: child }, AGENT)).billingAccount.partnerChanges).toEqual([
      { partnerId: 'mvno-a', previousPartnerId: null, partnerVersion: 1, changedBy: 'agent-7', viaAccountId: parent },
    ]);

    h.clock.advance(60_000);
    const close = { billingAccountId: child, reason: 'cost centre merged', idempotencyKey: `close-${child}` };
    await h.ok(CLOSE, { i: close }, ADMIN);
    await h.ok(CLOSE, { i: close }, ADMIN);
    expect(await nodes(child, { field: 'STATUS' })).toEqual([
      { field: 'STATUS', oldValue: 'OPEN', newValue: 'CLOSED', changedAt: h.clock.now().toISOString(), changedBy: 'admin-2', changedByRole: 'ADMIN', viaAccountId: null, reason: 'cost centre merged', requestKey: `close-${child}` },
      expect.objectContaining({ field: 'STATUS', oldValue: null, newValue: 'OPEN', changedBy: 'agent-7' }),
    ]);
  });

  it('pages newest first with cursors and a total per field', async () => {
    const { customerId } = await customer();
    const account = await open({ customerId, creditLimit: '100' });
    for (const limit of ['200', '300', '400']) await update({ billingAccountId: account, creditLimit: limit });
    const first = await changes(account, { field: 'CREDIT_LIMIT', first: 2 });
    expect(first.totalCount).toBe(4);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(first.edges.map((e: { node: { newValue: string } }) => e.node.newValue)).toEqual(['400', '300']);
    const next = await changes(account, { field: 'CREDIT_LIMIT', first: 2, after: first.pageInfo.endCursor });
    expect(next.edges.map((e: { node: { newValue: string } }) => e.node.newValue)).toEqual(['200', '100']);
    expect(next.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect((await changes(account)).totalCount).toBe(5);
  });

  it("the account's customer reads their own trail with roles but no staff identities; another customer's account answers as an unknown one", async () => {
    const mine = await customer();
    const account = await open({ customerId: mine.customerId, creditLimit: '500' });
    await update({ billingAccountId: account, creditLimit: '5000' }, ADMIN);
    await update({ billingAccountId: account, autopayToken: TOKEN_2 }, mine.me);
    const seen = await nodes(account, {}, mine.me);
    expect(seen.map((c: Record<string, unknown>) => [c.field, c.changedByRole, c.changedBy, c.reason, c.requestKey])).toEqual([
      ['AUTOPAY', 'CUSTOMER', null, null, null],
      ['CREDIT_LIMIT', 'ADMIN', null, null, null],
      ['CREDIT_LIMIT', 'AGENT', null, null, null],
      ['STATUS', 'AGENT', null, null, null],
    ]);
    expect(seen[1]).toMatchObject({ oldValue: '500', newValue: '5000' });

    const other = await customer();
    const theirs = await open({ customerId: other.customerId, creditLimit: '700' });
    const read = (id: string) => h.subscribers.request<any>(CHANGES, { id }, mine.me);
    const unknown = await read('acc_doesnotexist');
    expect(unknown).toEqual({ data: { billingAccount: null } });
    expect(await read(theirs)).toEqual(unknown);
    const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { id changes { totalCount edges { node { field newValue } } } } } }`;
    const refs = await h.subscribers.request<any>(ENTITIES, { r: [{ __typename: 'BillingAccount', id: theirs }, { __typename: 'BillingAccount', id: 'acc_doesnotexist' }] }, mine.me);
    expect(refs).toEqual({ data: { _entities: [null, null] } });
    // Partners and anonymous callers read nothing here.
    const partner = await h.subscribers.request<any>(CHANGES, { id: theirs }, { role: 'PARTNER', subject: 'mvno-a', partnerId: 'mvno-a', scopes: [] });
    expect(partner.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
