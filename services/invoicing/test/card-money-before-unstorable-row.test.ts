// A card payment or refund whose row the database cannot hold. recordPayment charged the card at the
// provider and only then inserted the payment; refundPayment refunded at the provider and only then
// inserted the refund. payment.idempotency_key and refund.idempotency_key hold 200 characters (Stripe
// takes keys up to 255, so a client may well send longer ones) and payment.amount numeric(18,4) holds
// less than 1e14: a key of 201 characters, or an overpayment of 1e14 kept as credit, made the insert
// fail after the provider had moved the money. The transaction rolled back (INTERNAL_SERVER_ERROR),
// the customer's card was charged (or refunded) with nothing on the ledger, and every retry with the
// same key was answered the same capture by the provider and failed again the same way.
// Correct: such input is refused up front as BAD_USER_INPUT naming the field (IDEMPOTENCY_KEY_INVALID
// as applyUnappliedPayment refuses it, PAYMENT_AMOUNT_INVALID as receiveBankTransfer refuses an
// amount too large), before the provider is asked; a key of exactly 200 characters still pays and
// refunds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id total { amount } amountPaid { amount } } }';
const card = (invoiceId: string, amount: string, key: string, allowOverpayment = false) => ({ i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount, currency: 'EUR' }, idempotencyKey: key, allowOverpayment } });
const errorOf = (r: any) => (r.errors?.length ? { code: r.errors[0].extensions?.code, reason: r.errors[0].extensions?.reason, field: r.errors[0].extensions?.field } : 'ok');
// At the provider a caller's payment key is its account's: `payment:<account>:<key>`.
const charged = (key: string) => [...h.payments.charges.keys()].filter((k) => k === key || k.endsWith(`:${key}`));
const { refusal } = disputeCalls(() => h);
const refunded = (key: string) => [...h.payments.refunds.keys()].filter((k) => k.includes(key));

describe('card money is not moved for a payment or refund the ledger cannot record', () => {
  it('a payment key over 200 characters is refused before the card is charged; 200 pays', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_1', 'cus_cmu_1')).id })).invoice;
    const long = `order-${'x'.repeat(195)}`; // 201 characters
    const r = await h.svc.request<any>(PAY, card(inv.id, '10.00', long));
    expect(errorOf(r)).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect(charged(long), 'the card was charged for a payment that was never recorded').toHaveLength(0);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('0');
    // A NUL is refused alike (it failed at the key's lock, a database error, before any charge).
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', 'order-\u0000-1')))).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });

    const edge = `order-${'y'.repeat(194)}`; // 200 characters
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', edge)))).toBe('ok');
    expect(charged(edge)).toHaveLength(1);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('10');
  });

  it('a refund key over 200 characters is refused before the provider refunds; 200 refunds', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_2', 'cus_cmu_2')).id })).invoice;
    const pay = await h.gql<any>(PAY, card(inv.id, '10.00', 'cmu-2-pay'));
    const paymentId = pay.recordPayment.payment.id;
    const long = `refund-${'x'.repeat(194)}`; // 201 characters
    const r = await h.svc.request<any>(REFUND, { i: { paymentId, amount: { amount: '4.00', currency: 'EUR' }, idempotencyKey: long } });
    expect(errorOf(r)).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect(refunded(long), 'the card was refunded for a refund that was never recorded').toHaveLength(0);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('10');

    const edge = `refund-${'y'.repeat(193)}`; // 200 characters
    const ok = await h.svc.request<any>(REFUND, { i: { paymentId, amount: { amount: '4.00', currency: 'EUR' }, idempotencyKey: edge } });
    expect(errorOf(ok)).toBe('ok');
    expect(ok.data.refundPayment.payment.refundedAmount.amount).toBe('4');
    expect(refunded(edge)).toHaveLength(1);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('6');
  });

  it("an agent's refund above the approval limit with such a key is refused at once, not left for a supervisor to approve", async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_4', 'cus_cmu_4')).id })).invoice;
    const paymentId = (await h.gql<any>(PAY, card(inv.id, '10.00', 'cmu-4-pay'))).recordPayment.payment.id;
    const long = `refund-${'x'.repeat(220)}`; // fits approval_request.request_key (240), not refund.idempotency_key (200)
    expect(await refusal(agent('agent-cmu'), REFUND, { i: { paymentId, amount: { amount: '9.00', currency: 'EUR' }, idempotencyKey: long } })).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    const pending = await h.gql<any>('query { approvalRequests(status: PENDING, first: 50) { edges { node { id subjectId } } } }');
    expect(pending.approvalRequests.edges.filter((e: any) => e.node.subjectId === paymentId), 'no request waits for a refund that could never be recorded').toHaveLength(0);
    expect(refunded(long)).toHaveLength(0);
  });

  it('an empty refund key is refused as recordPayment refuses one, before the provider refunds', async () => {
    // refundPayment's check was only the upper bound: "" (length 0) refunded the card, and the account's
    // next refund with "" was answered IDEMPOTENCY_KEY_REUSED (or replayed the first one).
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_5', 'cus_cmu_5')).id })).invoice;
    const missing = { code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_MISSING', field: 'input.idempotencyKey' };
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', '')))).toEqual(missing);
    const paymentId = (await h.gql<any>(PAY, card(inv.id, '10.00', 'cmu-5-pay'))).recordPayment.payment.id;
    const before = h.payments.refunds.size;
    expect(errorOf(await h.svc.request<any>(REFUND, { i: { paymentId, amount: { amount: '4.00', currency: 'EUR' }, idempotencyKey: '' } }))).toEqual(missing);
    // An agent above the approval limit is refused alike, with no request left waiting.
    expect(await refusal(agent('agent-cmu-5'), REFUND, { i: { paymentId, amount: { amount: '9.00', currency: 'EUR' }, idempotencyKey: '' } })).toEqual(missing);
    expect(h.payments.refunds.size, 'the card was refunded under an empty key').toBe(before);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('10');
    const pending = await h.gql<any>('query { approvalRequests(status: PENDING, first: 50) { edges { node { id subjectId } } } }');
    expect(pending.approvalRequests.edges.filter((e: any) => e.node.subjectId === paymentId)).toHaveLength(0);
  });

  it('a whitespace-only payment or refund key is refused as an empty one is, before the provider moves money', async () => {
    // checkPaymentKey refused only "": "   " charged and refunded the card under a key no caller means
    // (subscribers, usage, disputes and unapplied payments refuse a key that is only whitespace).
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_6', 'cus_cmu_6')).id })).invoice;
    const missing = { code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_MISSING', field: 'input.idempotencyKey' };
    const chargesBefore = h.payments.charges.size;
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', '   ')))).toEqual(missing);
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', '\t\n')))).toEqual(missing);
    expect(h.payments.charges.size, 'the card was charged under a blank key').toBe(chargesBefore);
    const paymentId = (await h.gql<any>(PAY, card(inv.id, '10.00', 'cmu-6-pay'))).recordPayment.payment.id;
    const before = h.payments.refunds.size;
    expect(errorOf(await h.svc.request<any>(REFUND, { i: { paymentId, amount: { amount: '4.00', currency: 'EUR' }, idempotencyKey: '   ' } }))).toEqual(missing);
    expect(await refusal(agent('agent-cmu-6'), REFUND, { i: { paymentId, amount: { amount: '9.00', currency: 'EUR' }, idempotencyKey: '   ' } })).toEqual(missing);
    expect(h.payments.refunds.size, 'the card was refunded under a blank key').toBe(before);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('10');
    const pending = await h.gql<any>('query { approvalRequests(status: PENDING, first: 50) { edges { node { id subjectId } } } }');
    expect(pending.approvalRequests.edges.filter((e: any) => e.node.subjectId === paymentId), 'no request waits under a blank key').toHaveLength(0);
  });

  it('an overpayment too large for the ledger is refused before the card is charged', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_cmu_3', 'cus_cmu_3')).id })).invoice;
    const r = await h.svc.request<any>(PAY, card(inv.id, '100000000000000.00', 'cmu-3-huge', true));
    expect(errorOf(r)).toEqual({ code: 'BAD_USER_INPUT', reason: 'PAYMENT_AMOUNT_INVALID', field: 'input.amount.amount' });
    expect(charged('cmu-3-huge'), 'the card was charged for a payment that was never recorded').toHaveLength(0);
    // The largest amount the ledger holds is still taken (the rest of the invoice kept as credit).
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '99999999999999.99', 'cmu-3-max', true)))).toBe('ok');
    expect(charged('cmu-3-max')).toHaveLength(1);
  });
});
