// Review 11: a refund on a disputed paid invoice. A SETTLED invoice is disputed without a hold
// (nothing to collect). A refund then makes it owe again: it went back to SENT/PARTIALLY_PAID
// with the dispute still open but no hold, so the account's credit paid the disputed amount at
// once and the re-armed dunning (its hold looks at ON_HOLD only) chased it. Now it is held, as an
// invoice that owes is when a dispute is opened on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, NO_DUNNING, agent, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-r11');

const { OPEN, DECIDE } = disputeMutations('id status');
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state amountDue { amount } amountPaid { amount } amountDisputed { amount } } }`;

const { as, credit } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const view = (i: any) => ({ state: i.state, amountDue: i.amountDue.amount, amountPaid: i.amountPaid.amount, amountDisputed: i.amountDisputed.amount });

beforeAll(async () => {
  h = await startHarness('2026-10-05T08:00:00Z', { consume: false, runBillRuns: false, dunning: NO_DUNNING, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('a refund on a disputed paid invoice', () => {
  it('reopens it on hold: credit does not pay the disputed amount, and the dispute still decides it', async () => {
    const acc = 'acc_r11_refund';
    const cus = customer('cus_r11_refund');
    await account(h, acc, { customerId: 'cus_r11_refund' });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-07-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const sep = r.closeBillingPeriod.billingPeriod.invoice;
    expect(sep).toMatchObject({ state: 'SENT', total: { amount: '35.69' } });
    // Paid in full by card, then 20.00 more kept as credit (an overpayment).
    const card = (await h.gql<any>(PAY, { i: { invoiceId: sep.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '55.69', currency: 'EUR' }, allowOverpayment: true, idempotencyKey: 'r11-card' } })).recordPayment;
    expect(card.invoice.state).toBe('SETTLED');
    expect(await credit(acc)).toBe('20');

    const d = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '35.69', reason: 'I cancelled before September', idempotencyKey: 'r11-d' } })).openDispute.dispute;
    expect(view(await invoice(sep.id))).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '35.69' });

    // The card payment's 35.69 on the invoice is refunded (the 20.00 credit first: 55.69 in all).
    await h.gql(REFUND, { i: { paymentId: card.payment.id, amount: { amount: '55.69', currency: 'EUR' }, idempotencyKey: 'r11-refund' } });
    expect(view(await invoice(sep.id)), 'it owes again and is disputed: held, not chased').toEqual({ state: 'ON_HOLD', amountDue: '35.69', amountPaid: '0', amountDisputed: '35.69' });

    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Cancelled in August' } });
    expect(view(await invoice(sep.id))).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '0', amountDisputed: '0' });
  });

  it('a refund that leaves more owed than is disputed holds it too; credit pays only the undisputed part', async () => {
    const acc = 'acc_r11_part';
    const cus = customer('cus_r11_part');
    await account(h, acc, { customerId: 'cus_r11_part' });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-07-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const sep = r.closeBillingPeriod.billingPeriod.invoice;
    const card = (await h.gql<any>(PAY, { i: { invoiceId: sep.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'r11-part-card' } })).recordPayment;
    await h.gql(PAY, { i: { invoiceId: sep.id, channel: 'BANK_TRANSFER', amount: { amount: '50.00', currency: 'EUR' }, allowOverpayment: true, idempotencyKey: 'r11-part-credit' } });
    expect(await credit(acc)).toBe('50');
    const d = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '10.00', reason: 'A roaming day I never had', idempotencyKey: 'r11-part-d' } })).openDispute.dispute;
    expect((await invoice(sep.id)).state).toBe('SETTLED');

    await h.gql(REFUND, { i: { paymentId: card.payment.id, amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'r11-part-refund' } });
    // Credit pays the 25.69 not disputed, never the 10.00 the dispute holds.
    expect(view(await invoice(sep.id))).toEqual({ state: 'ON_HOLD', amountDue: '10', amountPaid: '25.69', amountDisputed: '10' });
    expect(await credit(acc)).toBe('24.31');

    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'You were in France that day' } });
    expect(view(await invoice(sep.id)), 'rejected: credit pays the rest').toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(await credit(acc)).toBe('14.31');
  });
});
