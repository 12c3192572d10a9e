// recordPayment's `reference` (a bank transfer's text, or any payment's own reference) is kept on the payment row
// (payment.reference). A NUL in it is no text PostgreSQL can hold: naming the invoice, a card payment charged the card at
// the provider and then failed its insert (INTERNAL_SERVER_ERROR): the customer's card was charged with nothing on the
// ledger, and every retry with the same key got the same capture back and failed again the same way. Without the
// invoice, the reference look-up itself failed (INTERNAL). receiveBankTransfer refuses such a reference up front
// (PAYMENT_REFERENCE_INVALID on input.reference); recordPayment now does too, before the provider is asked. Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { closedSeptember, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id reference } invoice { amountPaid { amount } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id number amountPaid { amount } } }';
const errorOf = (r: any) => (r.errors?.length ? { code: r.errors[0].extensions?.code, reason: r.errors[0].extensions?.reason, field: r.errors[0].extensions?.field } : 'ok');
const charged = (key: string) => [...h.payments.charges.keys()].filter((k) => k === key || k.endsWith(`:${key}`));
const REFUSED = { code: 'BAD_USER_INPUT', reason: 'PAYMENT_REFERENCE_INVALID', field: 'input.reference' };

describe('a payment reference holding a NUL', () => {
  it('a card payment naming its invoice is refused before the card is charged; the same reference without the NUL pays', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_prn_card', 'cus_prn_card')).id })).invoice;
    const pay = (reference: string, key: string) => h.svc.request<any>(PAY, { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: key, reference } });
    const error = errorOf(await pay('Order 42\u0000', 'prn-card'));
    expect({ error, charged: charged('prn-card') }, 'refused, and the card not charged for a payment never recorded').toEqual({ error: REFUSED, charged: [] });
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('0');
    const ok = await pay('Order 42', 'prn-card-2');
    expect(errorOf(ok)).toBe('ok');
    expect(ok.data.recordPayment).toMatchObject({ payment: { reference: 'Order 42' }, invoice: { amountPaid: { amount: '10' } } });
  });

  it('a bank transfer found by its reference: refused, naming the field (not a database error)', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_prn_bank', 'cus_prn_bank')).id })).invoice;
    const r = await h.svc.request<any>(PAY, { i: { channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'prn-bank', reference: `${inv.number}\u0000` } });
    expect(errorOf(r)).toEqual(REFUSED);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('0');
  });
});
