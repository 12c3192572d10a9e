/**
 * A customer pays only their own invoice (authorization.ts, requirePayer). The check looked the
 * invoice up by the exact payment reference, while recordPayment finds it by the reference's
 * tokens too (`pay inv-2026-000001`, any case, any separators): a reference written loosely
 * matched nothing in the check, so it let the call through, and recordPayment then paid another
 * customer's invoice with the caller's card (an overpayment becoming that account's credit) and
 * answered that invoice (its state and amounts) to the caller. The check now resolves the
 * reference as recordPayment does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const OWN: Caller = { role: 'CUSTOMER', subject: 'rosa', customerId: 'cus_r20_own', scopes: [] };
const OTHER: Caller = { role: 'CUSTOMER', subject: 'mallory', customerId: 'cus_r20_other', scopes: [] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id billingAccountId } invoice { id state amountPaid { amount } } } }';
let inv = '';
let ref = '';

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_r20_own', { customerId: OWN.customerId });
  await account(h, 'acc_r20_other', { customerId: OTHER.customerId });
  await subscribe(h, 'acc_r20_own', 'sub_r20_own', 'postpaid20', '2026-08-01T00:00:00Z');
  const r = await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id paymentReference state } } } }', {
    i: { billingAccountId: 'acc_r20_own', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  inv = r.closeBillingPeriod.billingPeriod.invoice.id;
  ref = r.closeBillingPeriod.billingPeriod.invoice.paymentReference;
  expect(ref).toMatch(/\d/);
});
afterAll(async () => h?.svc.close());

describe("a customer's card payment by a loosely written reference", () => {
  it("is refused when the reference names another customer's invoice, and charges nothing", async () => {
    const before = (await h.gql('query($id: ID!) { invoice(id: $id) { state amountPaid { amount } } }', { id: inv })).invoice;
    const charges = h.payments.charges.size;
    const loose = [ref.toLowerCase(), `Payment ${ref.replace(/-/g, ' ')} thanks`];
    const answers = [];
    for (const [n, reference] of loose.entries()) {
      const r = await h.svc.request(PAY, { i: { reference, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '50.00', currency: 'EUR' }, allowOverpayment: true, idempotencyKey: `r20-loose-${n}` } }, OTHER);
      answers.push([r.errors?.[0]?.extensions?.reason ?? 'OK', r.data?.recordPayment ?? null]);
    }
    // Answered as a reference no invoice has (customer-ids-not-probed.test.ts), not FORBIDDEN.
    expect(answers).toEqual([
      ['PAYMENT_REFERENCE_UNMATCHED', null],
      ['PAYMENT_REFERENCE_UNMATCHED', null],
    ]);
    expect(h.payments.charges.size).toBe(charges);
    expect((await h.gql('query($id: ID!) { invoice(id: $id) { state amountPaid { amount } } }', { id: inv })).invoice).toEqual(before);
  });

  it('still pays the caller’s own invoice found by a loosely written reference', async () => {
    const r = await h.svc.request(PAY, { i: { reference: ref.toLowerCase(), channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'r20-own-loose' } }, OWN);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data.recordPayment.invoice.id).toBe(inv);
  });
});
