// Review: dunning's restoration must give back only what dunning took.
//
// The dunning workflow suspends an account's lines through GraphqlLineControlClient
// (suspendAccountLines bars every ACTIVE line) and, once the invoice is paid, restores them
// (restoreAccountLines). The restore resumes *every* SUSPENDED or BARRED line of the account, so a
// line the customer suspended themselves (lost phone: `suspendLine` is the one lifecycle change a
// customer may make), or one barred for any other reason, is switched back on by a payment. It
// must stay as it was: dunning only undoes its own bars.
//
// Runs the dunning line-control client against the real subscribers service (inline orders,
// sandbox network), as the worker does in production.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, SYSTEM_CALLER, type TestService } from '@ledgerline/platform';
import { GraphqlLineControlClient } from '../src/activities/invoicing';
// The real subscribers service (test files only), as in order-fulfilment.test.ts.
import { createSubscribersService } from '../../services/subscribers/src/service';
import { SandboxProvisioning } from '../../services/subscribers/src/ports/provisioning';

let subscribers: TestService;
beforeAll(async () => {
  const def = createSubscribersService({
    catalog: { currentPlanVersion: async () => null, planVersionDocument: async () => null, offer: async () => null },
    provisioning: new SandboxProvisioning(),
    sweepIntervalMs: 0,
    wallets: null,
    notifications: false,
  });
  subscribers = await startServiceForTest(def, { clock: new ManualClock(new Date('2026-11-16T10:00:00Z')) });
});
afterAll(async () => {
  await subscribers?.close();
});

async function ok(q: string, v: Record<string, unknown> = {}) {
  const r = await subscribers.request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

async function accountWithTwoLines(tag: string) {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Dunning Dora", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
  const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
  const add = async (msisdn: string) => (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id status } } }`, { a: accountId, m: msisdn })).addLine.line;
  const a = await add(`+4915123${tag}1`);
  const b = await add(`+4915123${tag}2`);
  return { customerId, accountId, lineA: a.id as string, lineB: b.id as string };
}

const statusOf = async (lineId: string) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status as string;

describe('review3: dunning restore only resumes the lines dunning suspended', () => {
  it('a line the customer suspended (lost phone) stays SUSPENDED when the overdue invoice is paid', async () => {
    const { customerId, accountId, lineA, lineB } = await accountWithTwoLines('77770');
    expect([await statusOf(lineA), await statusOf(lineB)]).toEqual(['ACTIVE', 'ACTIVE']);

    // The customer reports line B's phone lost and suspends it (allowed to a customer).
    const lost = await subscribers.request(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`, { i: { lineId: lineB, reason: 'phone lost' } }, { role: 'CUSTOMER', subject: 'dora', customerId, scopes: [] });
    expect(lost.errors).toBeUndefined();
    expect(await statusOf(lineB)).toBe('SUSPENDED');

    // Dunning suspends the account for invoice inv_1, then the invoice is paid and dunning restores.
    const control = new GraphqlLineControlClient({ url: subscribers.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });
    await control.suspendAccountLines({ billingAccountId: accountId, reason: 'dunning: invoice inv_1 unpaid', idempotencyKey: 'dunning-inv_1:suspend' });
    expect(await statusOf(lineA)).toBe('BARRED');
    await control.restoreAccountLines({ billingAccountId: accountId, reason: 'dunning: invoice inv_1 paid', idempotencyKey: 'dunning-inv_1:restore' });

    expect(await statusOf(lineA), 'the line dunning barred is restored').toBe('ACTIVE');
    // Correct: dunning never suspended line B, so paying the invoice must not switch on a phone the
    // customer reported lost. Today restoreAccountLines resumes every SUSPENDED/BARRED line.
    expect(await statusOf(lineB), 'a line suspended by the customer (not by dunning) must stay SUSPENDED after dunning restores the account').toBe('SUSPENDED');
  });

  it('paying one overdue invoice does not restore lines another, still unpaid, invoice had suspended', async () => {
    const { accountId, lineA, lineB } = await accountWithTwoLines('77771');
    const control = new GraphqlLineControlClient({ url: subscribers.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });
    // Two overdue invoices, each with its own dunning workflow: both reach their suspension step.
    await control.suspendAccountLines({ billingAccountId: accountId, reason: 'dunning: invoice inv_old unpaid', idempotencyKey: 'dunning-inv_old:suspend' });
    await control.suspendAccountLines({ billingAccountId: accountId, reason: 'dunning: invoice inv_new unpaid', idempotencyKey: 'dunning-inv_new:suspend' });
    // Only inv_new is paid: its dunning ends and "restores".
    await control.restoreAccountLines({ billingAccountId: accountId, reason: 'dunning: invoice inv_new paid', idempotencyKey: 'dunning-inv_new:restore' });
    // Correct: inv_old is still unpaid past its suspension day and its dunning workflow is still in
    // SUSPENDED waiting for payment (it will never suspend again), so the lines must stay barred.
    expect([await statusOf(lineA), await statusOf(lineB)], 'lines suspended for a still-unpaid invoice must stay BARRED after another invoice is paid').toEqual(['BARRED', 'BARRED']);
  });
});
