// What subscribers needs to tell a customer about their money (services/subscribers,
// money-notifications.test.ts), carried by invoicing's events (added 2027-01-29, optional for old events):
// - customerBillCreated: account credit that pays the bill in the transaction that issues it
//   (`creditApplied`) and what is then left to pay (`amountDue`). Before, the event was written before
//   the credit was applied and said nothing of it: the customer was told to pay a bill already paid.
// - payment.created: the invoice's number, what it still owes after the payment, and the other open
//   invoices the part above what it owed paid as account credit in the same transaction (`creditApplied`,
//   `creditLeft`); the credit's own ACCOUNT_CREDIT payments follow it in the outbox.
// - refund.created: the invoice's number.
// Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';
import { disputeCalls } from './dispute-support';

let h: Harness;
const { as, db, outbox } = disputeCalls(() => h);
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-mem', scopes: [] };
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number total { amount } amountDue { amount } state } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';

const MONTHS = {
  aug: { periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z', at: '2026-09-01T09:00:00Z' },
  sep: { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z', at: '2026-10-01T09:00:00Z' },
  oct: { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z', at: '2026-11-01T09:00:00Z' },
};
async function close(acc: string, month: keyof typeof MONTHS): Promise<any> {
  const m = MONTHS[month];
  h.clock.set(new Date(m.at));
  return (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: m.periodStart, periodEnd: m.periodEnd } })).closeBillingPeriod.billingPeriod.invoice;
}
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, allowOverpayment: true, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const paymentEvent = async (paymentId: string) => (await outbox('billing.invoicing.payment.created')).filter((e: any) => e.data.paymentId === paymentId);

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_mem');
  await subscribe(h, 'acc_mem', 'sub_mem', 'postpaid20', '2026-07-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

describe('money events for customer messages', () => {
  it('payments name the invoice and what it still owes; an overpayment names the invoices its credit paid; a bill issued onto credit says what is left; a refund names the invoice', async () => {
    const aug = await close('acc_mem', 'aug');
    expect(aug.total.amount).toBe('35.69');
    // 50.00 on a 35.69 bill: 14.31 kept as credit, no other invoice to pay.
    const first = await pay(aug.id, 'BANK_TRANSFER', '50.00', 'mem-1');
    const [p1, ...more1] = await paymentEvent(first);
    expect(more1).toEqual([]);
    expect(p1.data).toMatchObject({ channel: 'BANK_TRANSFER', amount: '50.00', appliedAmount: '35.69', creditAmount: '14.31', invoiceNumber: aug.number, amountDue: '0.00', creditApplied: [], creditLeft: '14.31', autopay: false });

    // September's bill is issued onto the 14.31 of credit: 21.38 is left to pay.
    const sep = await close('acc_mem', 'sep');
    expect(sep).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: { amount: '21.38' } });
    const issued = (await outbox('billing.invoicing.customerbill.created')).filter((e: any) => e.data.invoiceId === sep.id);
    expect(issued).toHaveLength(1);
    expect(issued[0].data, 'the bill event says what the credit paid and what is left').toMatchObject({ state: 'SENT', total: '35.69', creditApplied: '14.31', amountDue: '21.38' });
    // The bill is announced before the credit's payment on it.
    const order = (await db().execute(`select payload from outbox where subject in ('billing.invoicing.customerbill.created', 'billing.invoicing.payment.created') order by seq`)).map((r: any) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload)).filter((e: any) => e.data.invoiceId === sep.id);
    expect(order.map((e: any) => [e.type, e.data.channel ?? null])).toEqual([
      ['CustomerBillCreateEvent', null],
      ['PaymentCreateEvent', 'ACCOUNT_CREDIT'],
    ]);
    expect(order[1].data).toMatchObject({ amount: '14.31', invoiceNumber: sep.number, amountDue: '21.38' });

    // 10.00 by card on September: 11.38 still due.
    const second = await pay(sep.id, 'CARD', '10.00', 'mem-2');
    expect((await paymentEvent(second))[0].data).toMatchObject({ channel: 'CARD', invoiceNumber: sep.number, amountDue: '11.38', invoiceState: 'PARTIALLY_PAID', creditApplied: [], creditLeft: '0.00' });

    // 100.00 on October's 35.69: the 64.31 above it pays September's 11.38, 52.93 stays as credit.
    const oct = await close('acc_mem', 'oct');
    const third = await pay(oct.id, 'BANK_TRANSFER', '100.00', 'mem-3');
    const [p3] = await paymentEvent(third);
    expect(p3.data).toMatchObject({
      amount: '100.00',
      appliedAmount: '35.69',
      creditAmount: '64.31',
      invoiceNumber: oct.number,
      amountDue: '0.00',
      invoiceState: 'SETTLED',
      creditApplied: [{ invoiceId: sep.id, invoiceNumber: sep.number, amount: '11.38', amountDue: '0.00' }],
      creditLeft: '52.93',
    });

    // A refund of 5.00 of it names October's invoice.
    await as(ADMIN, REFUND, { i: { paymentId: third, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: 'mem-refund' } });
    const refunds = (await outbox('billing.invoicing.refund.created')).filter((e: any) => e.data.paymentId === third);
    expect(refunds.map((e: any) => e.data)).toEqual([expect.objectContaining({ invoiceId: oct.id, invoiceNumber: oct.number, amount: '5.00', channel: 'BANK_TRANSFER' })]);
  });
});
