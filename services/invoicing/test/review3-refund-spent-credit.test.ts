// Review 3: refunding the overpaid part of a payment after that credit was already spent on the
// next invoice. refundPayment takes "kept credit first" from payment.credit_amount without asking
// whether the account still has it: the 10.00 overpayment paid October's invoice (ACCOUNT_CREDIT)
// and is then refunded as well, so the customer gets the same 10.00 twice; the account's credit
// goes to −10.00, a debt that is on no invoice (no dunning, no amount due) — the operator loses it.
// Correct (STATUS: "overpayment → account credit, refunds"; ARCHITECTURE: a balance equals the sum
// of its entries and never goes below zero unless allowed): money is given back once — the refund
// is refused, or it reopens the invoice it was applied to (which then owes the 10.00 again);
// the account credit never goes below zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_refund_spent');
  await subscribe(h, 'acc_refund_spent', 'sub_refund_spent', 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } amountPaid { amount } } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id creditAmount { amount } } } }';
const credit = async () => (await h.gql<any>('query { _entities(representations: [{ __typename: "BillingAccount", id: "acc_refund_spent" }]) { ... on BillingAccount { accountCredit { amount } } } }'))._entities[0].accountCredit.amount;

describe('review3: refund of an overpayment already spent as account credit', () => {
  it('does not give back credit the account no longer has', async () => {
    const sep = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_refund_spent', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const over = dec(sep.total.amount).plus('10.00').toFixed(2);
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: sep.id, channel: 'BANK_TRANSFER', amount: { amount: over, currency: 'EUR' }, idempotencyKey: 'spent-over', allowOverpayment: true } })).recordPayment.payment;
    expect(pay.creditAmount.amount).toBe('10');

    // October's invoice takes the 10.00 credit by itself.
    h.clock.set(new Date('2026-11-01T09:00:00Z'));
    const oct = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_refund_spent', periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect(oct.amountPaid.amount).toBe('10');
    expect(await credit()).toBe('0');

    // The customer asks for the 10.00 back.
    const r = await h.svc.request<any>('mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { refundedAmount { amount } } } }', {
      i: { paymentId: pay.id, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'spent-refund' },
    });
    const after = await credit();
    const owed = (await invoicesOf(h, 'acc_refund_spent')).reduce((a: any, i: any) => a.plus(i.amountDue.amount), dec('0'));
    const refunded = !r.errors?.length;
    const expectedOwed = dec(sep.total.amount).plus(oct.total.amount).minus(over).minus(refunded ? '-10.00' : '0'); // received = over − refund
    expect(
      { accountCredit: after, amountDueOnInvoices: owed.toFixed(2) },
      `refund ${refunded ? 'accepted' : 'refused'}: account credit ${after}, invoices owe ${owed.toFixed(2)}; the 10.00 already paid October's invoice, ` +
        'so refunding it must be refused or reopen an invoice — the credit must not go negative',
    ).toEqual({ accountCredit: '0', amountDueOnInvoices: expectedOwed.toFixed(2) });
  });
});
