// Idempotency keys are the caller's, but the card provider's key space is the merchant account's, for
// every operation (Stripe: one key space per account; the same key with another endpoint or other
// parameters is refused, never a second operation). recordPayment sent the caller's key to the
// provider's charge and refundPayment the caller's key to the provider's refund, both raw: a client
// that keys its payment and its refund of it the same ("order-17") had the refund refused by the
// provider (a lenient provider would answer the charge's result as if refunded), and a payment keyed
// like one of our own refund keys would take that refund's place.
// Correct: the provider's refund key is namespaced by operation (`refund:<caller key>`; since
// 2027-01-20 also by billing account, `refund:<account>:<key>`, and a payment's `payment:<account>:<key>`),
// the payment keys that would meet it are reserved, and our own store keys per operation (one table
// each) and account, and refuses a key reused for another payment of the account (IDEMPOTENCY_KEY_REUSED)
// without touching the provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { closedSeptember, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id total { amount } amountPaid { amount } } }';
const card = (invoiceId: string, amount: string, key: string) => ({ i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount, currency: 'EUR' }, idempotencyKey: key } });
const codeOf = (r: any) => (r.errors?.length ? `${String(r.errors[0].extensions?.code)} ${String(r.errors[0].extensions?.reason ?? r.errors[0].message)}` : 'ok');

describe('idempotency keys: one caller key, different operations and invoices', () => {
  it('a payment and its refund keyed the same are two operations at the provider', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_ikn_1', 'cus_ikn_1')).id })).invoice;
    const pay = await h.svc.request<any>(PAY, card(inv.id, '10.00', 'order-17'));
    expect(codeOf(pay)).toBe('ok');
    const refund = await h.svc.request<any>(REFUND, { i: { paymentId: pay.data.recordPayment.payment.id, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'order-17' } });
    expect(codeOf(refund), 'the refund keyed like its payment').toBe('ok');
    const refunds = [...h.payments.refunds.values()].filter((r) => r.req.amount === '10.00' && r.req.idempotencyKey.includes('order-17'));
    expect(refunds, 'one refund at the provider').toHaveLength(1);
    expect(refunds[0]!.req.idempotencyKey).not.toBe('order-17');
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('0');
  });

  it('the same key for another payment of the account is refused, and nothing is charged; another account’s key is its own', async () => {
    const a = (await closedSeptember(h, 'acc_ikn_2a', 'cus_ikn_2a')).id;
    const b = (await closedSeptember(h, 'acc_ikn_2b', 'cus_ikn_2b')).id;
    expect(codeOf(await h.svc.request<any>(PAY, card(a, '5.00', 'shared-key')))).toBe('ok');
    const before = h.payments.charges.size;
    expect(codeOf(await h.svc.request<any>(PAY, card(a, '6.00', 'shared-key')))).toMatch(/IDEMPOTENCY_KEY_REUSED/);
    expect(h.payments.charges.size, 'no second charge').toBe(before);
    expect((await h.gql<any>(INVOICE, { id: a })).invoice.amountPaid.amount).toBe('5');
    // Keys are per billing account (test/idempotency-keys-per-account.test.ts): another account's is another payment, charged under its own provider key.
    expect(codeOf(await h.svc.request<any>(PAY, card(b, '5.00', 'shared-key')))).toBe('ok');
    expect([...h.payments.charges.keys()].filter((k) => k.endsWith(':shared-key')).sort()).toEqual(['payment:acc_ikn_2a:shared-key', 'payment:acc_ikn_2b:shared-key']);
    expect((await h.gql<any>(INVOICE, { id: b })).invoice.amountPaid.amount).toBe('5');
  });

  it('a payment may not take a key our own refunds use at the provider', async () => {
    const inv = (await closedSeptember(h, 'acc_ikn_3', 'cus_ikn_3')).id;
    for (const key of ['refund:order-18', 'credit-note:cn-1:pay_x']) {
      const r = await h.svc.request<any>(PAY, card(inv, '5.00', key));
      expect(codeOf(r), key).toMatch(/IDEMPOTENCY_KEY_RESERVED/);
    }
    expect((await h.gql<any>(INVOICE, { id: inv })).invoice.amountPaid.amount).toBe('0');
  });
});
