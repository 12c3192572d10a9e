/**
 * A customer pays only their own invoice (authorization.ts, requirePayer). The check took the
 * invoice named by `invoiceId ?? reference`, while recordPayment takes `invoiceId`, or the
 * reference's invoice when `invoiceId` is empty: an empty `invoiceId` ("" is a valid ID) named no
 * invoice in the check, so it let the call through, and recordPayment then paid the invoice of the
 * reference, another customer's, with the caller's card (an overpayment becoming that account's
 * credit) and answered that invoice to the caller. The check now finds the invoice as recordPayment
 * does (invoiceToPay).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const OWN: Caller = { role: 'CUSTOMER', subject: 'rosa', customerId: 'cus_r21_own', scopes: [] };
const OTHER: Caller = { role: 'CUSTOMER', subject: 'mallory', customerId: 'cus_r21_other', scopes: [] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id billingAccountId } invoice { id state amountPaid { amount } total { amount } } } }';
const READ = 'query($id: ID!) { invoice(id: $id) { state amountPaid { amount } } }';
let inv = '';
let ref = '';

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_r21_own', { customerId: OWN.customerId });
  await account(h, 'acc_r21_other', { customerId: OTHER.customerId });
  await subscribe(h, 'acc_r21_own', 'sub_r21_own', 'postpaid20', '2026-08-01T00:00:00Z');
  const r = await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id paymentReference state } } } }', {
    i: { billingAccountId: 'acc_r21_own', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  inv = r.closeBillingPeriod.billingPeriod.invoice.id;
  ref = r.closeBillingPeriod.billingPeriod.invoice.paymentReference;
  expect(ref).toMatch(/\d/);
});
afterAll(async () => h?.svc.close());

describe("a customer's card payment with an empty invoiceId and a reference", () => {
  it("is refused when the reference names another customer's invoice, and charges nothing", async () => {
    const before = (await h.gql(READ, { id: inv })).invoice;
    const charges = h.payments.charges.size;
    const r = await h.svc.request(PAY, { i: { invoiceId: '', reference: ref, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '50.00', currency: 'EUR' }, allowOverpayment: true, idempotencyKey: 'r21-empty-id' } }, OTHER);
    // Answered as a reference no invoice has (customer-ids-not-probed.test.ts), not FORBIDDEN.
    expect([r.errors?.[0]?.extensions?.reason ?? 'OK', r.data?.recordPayment ?? null]).toEqual(['PAYMENT_REFERENCE_UNMATCHED', null]);
    expect(h.payments.charges.size).toBe(charges);
    expect((await h.gql(READ, { id: inv })).invoice).toEqual(before);
  });

  it("still pays the caller's own invoice named so", async () => {
    const r = await h.svc.request(PAY, { i: { invoiceId: '', reference: ref, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'r21-own-empty-id' } }, OWN);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data.recordPayment.invoice.id).toBe(inv);
  });
});
