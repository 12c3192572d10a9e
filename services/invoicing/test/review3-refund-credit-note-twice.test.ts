// Review 3: the same money given back twice — a REFUND credit note and a refund of the payment.
// issueCreditNote(kind REFUND) lowers the invoice's amount_paid ("REFUND pays it back") but does not
// touch the payment's refunded_amount, so refundPayment still lets the whole payment be refunded at
// the card provider. amount_paid drops to −35.69 and the invoice, whose only line is fully credited,
// goes back to SENT asking for 35.69 again (and into dunning).
// Correct (STATUS: "Credit notes CREDIT/REFUND/OFFSET linked to lines", "refunds"; brief: a credit
// note must not be applied twice): money is given back once — after a REFUND credit note of the
// whole payment, a refund of that payment is refused (or the two are one refund); the invoice stays
// SETTLED with nothing due and amountPaid never below zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_twice');
  await subscribe(h, 'acc_twice', 'sub_twice', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }', { i: { billingAccountId: 'acc_twice', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } });
});
afterAll(async () => h?.svc.close());

describe('review3: REFUND credit note, then a refund of the same payment', () => {
  it('gives the money back once', async () => {
    const [inv] = await invoicesOf(h, 'acc_twice');
    const pay = (await h.gql<any>('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', {
      i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: inv.total.amount, currency: 'EUR' }, idempotencyKey: 'twice-pay' },
    })).recordPayment.payment;
    await h.gql('mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
      i: { invoiceId: inv.id, kind: 'REFUND', reason: 'Service never worked', lines: [{ invoiceLineId: inv.lines[0].id, amount: inv.total.amount }], idempotencyKey: 'twice-cn' },
    });
    const r = await h.svc.request<any>('mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { refundedAmount { amount } } } }', {
      i: { paymentId: pay.id, amount: { amount: inv.total.amount, currency: 'EUR' }, idempotencyKey: 'twice-refund' },
    });
    const [after] = await invoicesOf(h, 'acc_twice');
    const givenBack = `REFUND credit note ${inv.total.amount} + card refund ${r.errors?.length ? 'refused' : `${inv.total.amount} (provider refunds: ${h.payments.refunds.size})`}`;
    expect(
      { state: after.state, amountDue: after.amountDue.amount, amountPaid: after.amountPaid.amount },
      `${givenBack}: the invoice is ${after.state}, paid ${after.amountPaid.amount}, due ${after.amountDue.amount}; the payment was given back twice`,
    ).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '0' });
  });
});
