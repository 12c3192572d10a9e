// Closing a billing account (the customer leaves). Before, nothing closed an account: invoicing's
// final-period billing (`closeBillingPeriod` with `final`) was reached only by hand. Now
// `closeBillingAccount` closes it once every line is TERMINATED, emits `billingaccount.closed`
// through the outbox (invoicing bills the final period from it), answers a repeat as it is, and a
// closed account takes no new line or plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(async () => h?.close());

const CLOSE = `mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { id status closedAt } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { id status } } }`;

async function refusal(query: string, variables: Record<string, unknown>, caller?: Parameters<Harness['subscribers']['request']>[2]) {
  const r = await h.subscribers.request<any>(query, variables, caller);
  expect(r.errors, JSON.stringify(r.data)).toBeTruthy();
  return r.errors![0]!.extensions as Record<string, unknown>;
}

async function closedEvents(accountId: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [EVENTS.billingAccountClosed.subject, `%${accountId}%`]);
  return rows.map((r) => JSON.parse(r.payload));
}

describe('closing a billing account', () => {
  it('is refused while a line is live, then closes once the lines are terminated; a repeat is answered as it is; no new line after', async () => {
    const customerId = (await h.ok(`mutation { createCustomer(input: { name: "Lea Leaving", kind: INDIVIDUAL, creditClass: A }) { customer { id } } }`, {})).createCustomer.customer.id;
    const accountId = (await h.ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id status closedAt } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const added = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915123555101', planCode: 'POSTPAID_20GB' } })).addLine;
    expect(added.line.status).toBe('ACTIVE');
    const second = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915123555102' } })).addLine;

    // Live lines: refused, naming them; nothing changes.
    h.clock.set('2026-11-20T09:00:00Z');
    const input = { billingAccountId: accountId, reason: 'Moving abroad', idempotencyKey: 'close-lea-1' };
    const live = await refusal(CLOSE, { i: input });
    expect(live).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_HAS_LIVE_LINES', field: 'input.billingAccountId' });
    expect(new Set(live.lineIds as string[])).toEqual(new Set([added.line.id, second.line.id]));
    expect((await h.rows(`select status, closed_at from billing_account where id = $1`, [accountId]))[0]).toEqual({ status: 'OPEN', closed_at: null });
    expect(await closedEvents(accountId)).toEqual([]);

    // One line terminated, one still live: still refused, naming the one left.
    await h.ok(`mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { status } } }`, { i: { lineId: added.line.id, reason: 'leaving' } });
    expect((await refusal(CLOSE, { i: input })).lineIds).toEqual([second.line.id]);
    const t2 = await h.ok(`mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { status } } }`, { i: { lineId: second.line.id, reason: 'leaving' } });
    expect(t2.terminateLine.line.status).toBe('TERMINATED');

    // Customers do not close accounts (staff do, after checking who asks).
    const customer = { role: 'CUSTOMER' as const, subject: customerId, customerId, scopes: [] };
    expect((await refusal(CLOSE, { i: input }, customer)).code).toBe('FORBIDDEN');
    expect((await refusal(CLOSE, { i: { ...input, reason: '  ' } })).field).toBe('input.reason');

    h.clock.set('2026-11-20T10:00:00Z');
    const closed = (await h.ok(CLOSE, { i: input })).closeBillingAccount.billingAccount;
    expect(closed).toEqual({ id: accountId, status: 'CLOSED', closedAt: '2026-11-20T10:00:00.000Z' });
    const events = await closedEvents(accountId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: EVENTS.billingAccountClosed.type, subject: accountId, data: { billingAccountId: accountId, customerId, closedAt: '2026-11-20T10:00:00.000Z', reason: 'Moving abroad' } });

    // The same request again (a lost answer), and another key: the same answer, no second event.
    h.clock.set('2026-11-21T08:00:00Z');
    expect((await h.ok(CLOSE, { i: input })).closeBillingAccount.billingAccount).toEqual(closed);
    expect((await h.ok(CLOSE, { i: { ...input, idempotencyKey: 'close-lea-2', reason: 'Asked again' } })).closeBillingAccount.billingAccount).toEqual(closed);
    expect(await refusal(CLOSE, { i: { ...input, reason: 'Another reason' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    expect(await closedEvents(accountId)).toHaveLength(1);
    const read = await h.ok(`query($id: ID!) { billingAccount(id: $id) { status closedAt lines { status } } }`, { id: accountId });
    expect(read.billingAccount).toEqual({ status: 'CLOSED', closedAt: '2026-11-20T10:00:00.000Z', lines: [{ status: 'TERMINATED' }, { status: 'TERMINATED' }] });

    // A closed account takes no new line and no plan; nothing is written.
    const before = await h.counts();
    expect(await refusal(ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915123555103', planCode: 'POSTPAID_20GB' } })).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED', field: 'input.billingAccountId' });
    expect(await refusal(`mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id } } }`, { i: { lineId: second.line.id, planCode: 'POSTPAID_20GB' } })).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED' });
    expect(await h.counts()).toEqual(before);
  });

  it('an unknown account is NOT_FOUND; a new account is OPEN', async () => {
    expect(await refusal(CLOSE, { i: { billingAccountId: 'ba_nope', reason: 'x', idempotencyKey: 'k-nope' } })).toMatchObject({ code: 'NOT_FOUND', field: 'input.billingAccountId' });
    const customerId = (await h.ok(`mutation { createCustomer(input: { name: "Otto Open", kind: INDIVIDUAL, creditClass: A }) { customer { id } } }`, {})).createCustomer.customer.id;
    const opened = (await h.ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: PREPAID, currency: "EUR" }) { billingAccount { id status closedAt } } }`, { c: customerId })).openBillingAccount.billingAccount;
    expect(opened).toMatchObject({ status: 'OPEN', closedAt: null });
    // An account with no line at all closes at once.
    expect((await h.ok(CLOSE, { i: { billingAccountId: opened.id, reason: 'Never used', idempotencyKey: 'k-otto' } })).closeBillingAccount.billingAccount.status).toBe('CLOSED');
  });
});

// A closed account is final: it takes no change of terms, and an account hierarchy closes from
// the leaves up. Before, `updateBillingAccount` changed a closed account (and told wallets and
// invoicing), a parent closed while its child accounts were open, and a new account could be
// opened under a closed parent.
describe('a closed account and its hierarchy', () => {
  const UPDATE = `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { billingAccount { id } changed } }`;
  const OPEN = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id status } } }`;

  async function newCustomer(name: string) {
    return (await h.ok(`mutation($n: String!) { createCustomer(input: { name: $n, kind: INDIVIDUAL, creditClass: A }) { customer { id } } }`, { n: name })).createCustomer.customer.id as string;
  }
  async function open(input: Record<string, unknown>) {
    return (await h.ok(OPEN, { i: { paymentMode: 'POSTPAID', currency: 'EUR', ...input } })).openBillingAccount.billingAccount.id as string;
  }
  async function changedEvents(accountId: string) {
    const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [EVENTS.billingAccountChanged.subject, `%${accountId}%`]);
    return rows.map((r) => JSON.parse(r.payload));
  }
  const accountRow = async (id: string) => (await h.rows(`select status, closed_at, credit_limit, autopay_token from billing_account where id = $1`, [id]))[0];

  it('updateBillingAccount on a closed account is refused ACCOUNT_CLOSED, changing nothing and emitting nothing; removing its card token alone is allowed', async () => {
    const customerId = await newCustomer('Carl Closed');
    const accountId = await open({ customerId, creditLimit: '100.00', autopayToken: 'tok_carl_closed_1' });
    h.clock.set('2026-11-22T09:00:00Z');
    await h.ok(CLOSE, { i: { billingAccountId: accountId, reason: 'Left', idempotencyKey: 'close-carl' } });
    const row = await accountRow(accountId);
    const before = await h.counts();
    const events = await changedEvents(accountId);

    const staff = await refusal(UPDATE, { i: { billingAccountId: accountId, creditLimit: '250.00' } });
    expect(staff).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED', field: 'input.billingAccountId' });
    const owner = { role: 'CUSTOMER' as const, subject: customerId, customerId, scopes: [] };
    expect(await refusal(UPDATE, { i: { billingAccountId: accountId, autopayToken: 'tok_carl_closed_2' } }, owner)).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED', field: 'input.billingAccountId' });
    expect(await refusal(UPDATE, { i: { billingAccountId: accountId, creditLimit: null, autopayToken: null } })).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED' });

    expect(await accountRow(accountId)).toEqual(row);
    expect(row).toMatchObject({ status: 'CLOSED', autopay_token: 'tok_carl_closed_1' });
    expect(await changedEvents(accountId)).toEqual(events);
    expect(await h.counts()).toEqual(before);

    // The one change a closed account takes: the customer who left has their card token removed.
    await h.ok(UPDATE, { i: { billingAccountId: accountId, autopayToken: null } }, owner);
    expect(await accountRow(accountId)).toMatchObject({ status: 'CLOSED', autopay_token: null, credit_limit: row.credit_limit });
    expect((await changedEvents(accountId)).at(-1).data).toMatchObject({ billingAccountId: accountId, autopay: false, changed: ['autopay'] });
  });

  it('a parent closes only once its child accounts are closed; no account opens under a closed parent', async () => {
    const customerId = await newCustomer('Hanna Hierarchy');
    const parentId = await open({ customerId, name: 'Head office' });
    const childA = await open({ customerId, name: 'Branch A', parentAccountId: parentId });
    const childB = await open({ customerId, name: 'Branch B', parentAccountId: parentId });
    h.clock.set('2026-11-23T09:00:00Z');
    const input = { billingAccountId: parentId, reason: 'Company closed', idempotencyKey: 'close-hanna-parent' };

    const both = await refusal(CLOSE, { i: input });
    expect(both).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_HAS_OPEN_CHILDREN', field: 'input.billingAccountId' });
    expect(new Set(both.childAccountIds as string[])).toEqual(new Set([childA, childB]));
    expect(await accountRow(parentId)).toMatchObject({ status: 'OPEN', closed_at: null });
    expect(await closedEvents(parentId)).toEqual([]);

    await h.ok(CLOSE, { i: { billingAccountId: childA, reason: 'Branch closed', idempotencyKey: 'close-hanna-a' } });
    expect((await refusal(CLOSE, { i: input })).childAccountIds).toEqual([childB]);
    await h.ok(CLOSE, { i: { billingAccountId: childB, reason: 'Branch closed', idempotencyKey: 'close-hanna-b' } });
    expect((await h.ok(CLOSE, { i: input })).closeBillingAccount.billingAccount).toMatchObject({ id: parentId, status: 'CLOSED' });
    expect(await closedEvents(parentId)).toHaveLength(1);

    // Nothing new under the closed parent; nothing written.
    const before = await h.counts();
    expect(await refusal(OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', name: 'Branch C', parentAccountId: parentId } })).toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_CLOSED', field: 'input.parentAccountId' });
    expect(await h.counts()).toEqual(before);
  });
});
