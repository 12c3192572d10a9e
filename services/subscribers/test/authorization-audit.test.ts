/**
 * Authorization audit (with invoicing's): every read of subscribers refuses a caller who may read
 * nothing here (ANONYMOUS → UNAUTHENTICATED, PARTNER → FORBIDDEN) before it looks anything up, so
 * an answer never depends on whether the id exists; a customer gets another customer's rows as
 * null, through top-level queries and entity references (`_entities`) alike.
 *
 * Found: `productOrder(id)` looked the order up first and checked the caller only when there was
 * one, so an anonymous caller or a partner got `null` for an unknown id and UNAUTHENTICATED /
 * FORBIDDEN for a real one: an oracle of which order ids exist, and the one read that did not
 * refuse them outright.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const ORDER = `query($id: ID!) { productOrder(id: $id) { id billingAccount { id } line { id } } }`;
const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Line { id msisdn } ... on BillingAccount { id lines { id } } ... on Customer { id name } } }`;

const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'crm', partnerId: 'crm', scopes: [] };

let n = 0;
const msisdn = () => `+4915124${String(500000 + n++).padStart(6, '0')}`;

async function household() {
  const c = (await h.ok(CREATE_CUSTOMER, { i: { name: 'Audit Household', kind: 'INDIVIDUAL', email: 'audit@example.org', timezone: 'Europe/Berlin' } })).createCustomer.customer.id as string;
  const a = (await h.ok(OPEN_ACCOUNT, { i: { customerId: c, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id as string;
  const placed = (await h.ok(ADD_LINE, { i: { billingAccountId: a, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine;
  const me: Caller = { role: 'CUSTOMER', subject: c, customerId: c, scopes: [] };
  return { customerId: c, accountId: a, lineId: placed.line.id as string, msisdn: placed.line.msisdn as string, orderId: placed.order.id as string, me };
}

const code = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code ?? null;

describe('authorization audit: subscribers', () => {
  it('productOrder refuses an anonymous caller and a partner whether or not the order exists', async () => {
    const mine = await household();
    const unknown = 'ord_doesnotexist000000000000';
    const asked = [];
    for (const caller of [ANONYMOUS, PARTNER]) {
      asked.push([caller.role, code(await h.subscribers.request(ORDER, { id: mine.orderId }, caller)), code(await h.subscribers.request(ORDER, { id: unknown }, caller))]);
    }
    expect(asked).toEqual([
      ['ANONYMOUS', 'UNAUTHENTICATED', 'UNAUTHENTICATED'],
      ['PARTNER', 'FORBIDDEN', 'FORBIDDEN'],
    ]);
  });

  it('a customer reads their own order; another customer\'s and an unknown one alike read as null', async () => {
    const mine = await household();
    const theirs = await household();
    const own = await h.subscribers.request<any>(ORDER, { id: mine.orderId }, mine.me);
    const other = await h.subscribers.request<any>(ORDER, { id: theirs.orderId }, mine.me);
    const unknown = await h.subscribers.request<any>(ORDER, { id: 'ord_doesnotexist000000000000' }, mine.me);
    expect([own.data?.productOrder, other.data?.productOrder, unknown.data?.productOrder, other.errors, unknown.errors]).toEqual([
      { id: mine.orderId, billingAccount: { id: mine.accountId }, line: { id: mine.lineId } },
      null,
      null,
      undefined,
      undefined,
    ]);
  });

  it('another customer\'s line, account and customer are null through queries, the MSISDN and entity references', async () => {
    const mine = await household();
    const theirs = await household();
    const q = await h.subscribers.request<any>(
      `query($l: ID!, $a: ID!, $c: ID!, $m: String!) { line(id: $l) { id } billingAccount(id: $a) { id } customer(id: $c) { id } lineByMsisdn(msisdn: $m) { id } }`,
      { l: theirs.lineId, a: theirs.accountId, c: theirs.customerId, m: theirs.msisdn },
      mine.me,
    );
    expect(q.data).toEqual({ line: null, billingAccount: null, customer: null, lineByMsisdn: null });
    const refs = await h.subscribers.request<any>(
      ENTITIES,
      { r: [{ __typename: 'Line', id: theirs.lineId }, { __typename: 'BillingAccount', id: theirs.accountId }, { __typename: 'Customer', id: theirs.customerId }, { __typename: 'Line', id: mine.lineId }] },
      mine.me,
    );
    expect(refs.data?._entities).toEqual([null, null, null, { id: mine.lineId, msisdn: mine.msisdn }]);
  });
});
