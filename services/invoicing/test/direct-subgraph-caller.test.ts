/**
 * A client that reaches the invoicing subgraph directly (bypassing the gateway) is no one unless
 * the gateway signed its caller: no caller headers → an anonymous caller, refused UNAUTHENTICATED;
 * a caller header without a valid signature (unsigned, signed with another secret, a signed
 * customer's headers with the caller swapped for an ADMIN, or signed too long ago) → HTTP 401
 * before any resolver runs. Checked on a real invoice of a real account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, encodeCaller, type Caller } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET } from '@ledgerline/platform';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
let inv = '';
const SECRET = process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET;
const ADMIN: Caller = { role: 'ADMIN', subject: 'mallory', scopes: ['*'] };
const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'mallory', customerId: 'cus_direct_other', scopes: [] };
const READ = 'query($id: ID!) { invoice(id: $id) { id total { amount } } }';

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_direct', { customerId: 'cus_direct' });
  await subscribe(h, 'acc_direct', 'sub_direct', 'postpaid20', '2026-08-01T00:00:00Z');
  const r = await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: 'acc_direct', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  inv = r.closeBillingPeriod.billingPeriod.invoice.id;
});
afterAll(async () => h?.svc.close());

async function post(headers: Record<string, string>) {
  const response = await fetch(h.svc.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: READ, variables: { id: inv } }) });
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code ?? 'OK', invoice: body.data?.invoice ?? null };
}

describe('direct calls to the invoicing subgraph', () => {
  it('a signed ADMIN reads the invoice (the control)', async () => {
    expect(await post(callerHeaders(ADMIN, SECRET))).toMatchObject({ status: 200, code: 'OK', invoice: { id: inv } });
  });

  it('without caller headers: anonymous, UNAUTHENTICATED, nothing read', async () => {
    expect(await post({})).toMatchObject({ code: 'UNAUTHENTICATED', invoice: null });
  });

  it('a forged, re-signed, swapped or stale caller is 401 UNAUTHENTICATED', async () => {
    const signedCustomer = callerHeaders(CUSTOMER, SECRET);
    const cases: Record<string, Record<string, string>> = {
      unsigned: { [CALLER_HEADER]: encodeCaller(ADMIN) },
      'signed with another secret': callerHeaders(ADMIN, 'not-the-internal-secret'),
      'a customer signature, the caller swapped for ADMIN': { ...signedCustomer, [CALLER_HEADER]: encodeCaller(ADMIN) },
      'signed an hour ago': callerHeaders(ADMIN, SECRET, new Date(Date.now() - 3_600_000)),
    };
    const got: Record<string, unknown> = {};
    for (const [name, headers] of Object.entries(cases)) got[name] = await post(headers);
    const refused = { status: 401, code: 'UNAUTHENTICATED', invoice: null };
    expect(got).toEqual(Object.fromEntries(Object.keys(cases).map((name) => [name, refused])));
  });
});
