import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type CustomerBillCreatedData, type EventName, type PaymentCreatedData, type RefundCreatedData, type TopupBalanceData, type WalletPaidOutData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * "We received your payment", "Your top-up was credited", "Your refund is on its way": invoicing's
 * payment.created and refund.created, and wallets' balance.topup and wallet.paidout, become customer
 * messages (PAYMENT_RECEIVED, TOPUP_CONFIRMED, REFUND_SENT) through the same consumers, store and sender
 * as a bill. Money in the currency's minor unit, days as local days of the account's time zone
 * (Europe/Berlin: 23:30 UTC on 21 October is 22 October there). Invoicing's own moves of credit the
 * account already had (channel ACCOUNT_CREDIT) send nothing: the bill or payment that brought the
 * credit says what it paid. A bill that account credit pays at issue says what is left to pay.
 * Published on the real BILLING stream as the services' outbox relays publish them; a redelivered
 * event sends nothing twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let postpaid = '';
let autopay = '';
let prepaid = '';
const RUN = Math.random().toString(36).slice(2, 8);
const AT = new Date('2026-10-21T23:30:00.000Z');

let seq = 0;
async function publish(name: EventName, source: string, subject: string, data: object) {
  const event = createCloudEvent({ source, type: EVENTS[name].type, subject, time: AT, key: [name, RUN, String(++seq)], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: event.id });
  return event;
}
/** The same CloudEvent again, past NATS' dedupe (a relay that published it twice). */
async function redeliver(name: EventName, event: { id: string }) {
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: `${event.id}-redelivered` });
}
const asInvoicing = (name: EventName, subject: string, data: object) => publish(name, 'ledgerline/invoicing', subject, data);
const asWallets = (name: EventName, subject: string, data: object) => publish(name, 'ledgerline/wallets', subject, data);

const messagesOf = (eventId: string) => messagesOfEvent(h, eventId);
const sentFor = (eventId: string, ms?: number) => sentForEvent(h, eventId, ms);
const emailOf = async (eventId: string) => (await sentFor(eventId)).find((r) => r.channel === 'EMAIL')!;

const payment = (n: string, over: Partial<PaymentCreatedData> = {}): PaymentCreatedData => ({
  paymentId: `pay_${RUN}_${n}`,
  billingAccountId: postpaid,
  invoiceId: `inv_${RUN}_42`,
  channel: 'CARD',
  amount: '20.00',
  appliedAmount: '20.00',
  creditAmount: '0.00',
  currency: 'EUR',
  invoiceState: 'PARTIALLY_PAID',
  invoiceNumber: 'INV-00000042',
  amountDue: '15.70',
  paidAt: AT.toISOString(),
  ...over,
});

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: 'Mo Money', kind: 'INDIVIDUAL', email: 'mo@example.com', phone: '+4915199900077', notificationPreferences: { sms: true, email: true } },
  });
  const customerId = c.createCustomer.customer.id;
  const open = async (paymentMode: string, autopayToken?: string) =>
    (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode, currency: 'EUR', timezone: 'Europe/Berlin', ...(autopayToken ? { autopayToken } : {}) } })).openBillingAccount.billingAccount.id as string;
  postpaid = await open('POSTPAID');
  autopay = await open('POSTPAID', 'tok_visa_4242');
  prepaid = await open('PREPAID');
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('payment received', () => {
  it('a card payment: an SMS and an e-mail with the amount, the local day, the invoice and what is still due; a redelivery sends nothing more', async () => {
    const data = payment('part');
    const event = await asInvoicing('paymentCreated', data.paymentId, data);
    const rows = await sentFor(event.id);
    expect(rows.map((r) => [r.channel, r.receiver])).toEqual([
      ['EMAIL', 'mo@example.com'],
      ['SMS', '+4915199900077'],
    ]);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'PAYMENT_RECEIVED', subject: 'Payment received' });
      expect(r.content).toBe('We received your card payment of 20.00 EUR on 2026-10-22 for invoice INV-00000042. 15.70 EUR is still due on it.');
    }
    await redeliver('paymentCreated', event);
    const after = await asInvoicing('paymentCreated', `pay_${RUN}_later`, payment('later'));
    await sentFor(after.id);
    expect(await messagesOf(event.id)).toHaveLength(2);
  });

  it('a bank transfer that pays the invoice in full', async () => {
    const e = await asInvoicing('paymentCreated', 'p', payment('bank', { channel: 'BANK_TRANSFER', amount: '35.70', appliedAmount: '35.70', invoiceState: 'SETTLED', amountDue: '0.00' }));
    expect((await emailOf(e.id)).content).toBe('We received your bank transfer of 35.70 EUR on 2026-10-22 for invoice INV-00000042: it is paid in full.');
  });

  it('autopay: the card on file was charged', async () => {
    const e = await asInvoicing('paymentCreated', 'p', payment('auto', { billingAccountId: autopay, amount: '35.70', appliedAmount: '35.70', invoiceState: 'SETTLED', amountDue: '0.00', autopay: true }));
    expect((await emailOf(e.id)).content).toBe('We charged 35.70 EUR to your card on file on 2026-10-22 for invoice INV-00000042: it is paid in full.');
  });

  it('more than the invoice owed: the other invoices the rest paid, and the credit kept', async () => {
    const e = await asInvoicing(
      'paymentCreated',
      'p',
      payment('over', {
        channel: 'BANK_TRANSFER',
        amount: '100.00',
        appliedAmount: '35.70',
        creditAmount: '64.30',
        invoiceState: 'SETTLED',
        amountDue: '0.00',
        creditApplied: [
          { invoiceId: 'i40', invoiceNumber: 'INV-00000040', amount: '35.69', amountDue: '0.00' },
          { invoiceId: 'i41', invoiceNumber: 'INV-00000041', amount: '20.00', amountDue: '0.00' },
        ],
        creditLeft: '8.61',
      }),
    );
    expect((await emailOf(e.id)).content).toBe(
      'We received your bank transfer of 100.00 EUR on 2026-10-22 for invoice INV-00000042: it is paid in full. The other 64.30 EUR paid invoices INV-00000040 and INV-00000041 in full; 8.61 EUR stays on your account as credit for your next bills.',
    );
    const partly = await asInvoicing(
      'paymentCreated',
      'p',
      payment('over-partly', { amount: '50.00', appliedAmount: '35.70', creditAmount: '14.30', invoiceState: 'SETTLED', amountDue: '0.00', creditApplied: [{ invoiceId: 'i41', invoiceNumber: 'INV-00000041', amount: '14.30', amountDue: '21.39' }], creditLeft: '0.00' }),
    );
    expect((await emailOf(partly.id)).content).toBe('We received your card payment of 50.00 EUR on 2026-10-22 for invoice INV-00000042: it is paid in full. The other 14.30 EUR paid 14.30 EUR of invoice INV-00000041, on which 21.39 EUR is still due.');
  });

  it("invoicing's own application of account credit sends nothing; an event from before the new fields reads from the invoice state", async () => {
    const credit = await asInvoicing('paymentCreated', 'p', payment('credit', { channel: 'ACCOUNT_CREDIT', amount: '10.00', appliedAmount: '10.00' }));
    const old = await asInvoicing('paymentCreated', 'p', { ...payment('old', { invoiceState: 'SETTLED' }), invoiceNumber: undefined, amountDue: undefined, paidAt: undefined });
    expect((await emailOf(old.id)).content).toBe('We received your card payment of 20.00 EUR on 2026-10-22 for your invoice: it is paid in full.');
    expect(await messagesOf(credit.id)).toEqual([]);
  });
});

describe('top-up confirmed', () => {
  const topup = (n: string, over: Partial<TopupBalanceData> = {}): TopupBalanceData => ({
    id: `txn_${RUN}_${n}`,
    walletId: `wal_${RUN}`,
    billingAccountId: prepaid,
    amount: '20.00',
    currency: 'EUR',
    reference: `rch_${RUN}`,
    channel: 'PAYMENT',
    balance: { amount: '25.004', currency: 'EUR' },
    duePaid: '0',
    ...over,
  });

  it('a recharge: the amount credited and the new balance (floored); a redelivery sends nothing more', async () => {
    const data = topup('rch');
    const e = await asWallets('balanceTopup', data.walletId, data);
    const rows = await sentFor(e.id);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'TOPUP_CONFIRMED', subject: 'Top-up credited' });
      expect(r.content).toBe('Your top-up of 20.00 EUR was credited on 2026-10-22. Your balance is now 25.00 EUR.');
    }
    await redeliver('balanceTopup', e);
    const after = await asWallets('balanceTopup', data.walletId, topup('after'));
    await sentFor(after.id);
    expect(await messagesOf(e.id)).toHaveLength(2);
  });

  it('a voucher that also paid a charge waiting for it, and a bank transfer', async () => {
    const voucher = await asWallets('balanceTopup', 'w', topup('vou', { channel: 'VOUCHER', amount: '10', duePaid: '4.99', balance: { amount: '5.01', currency: 'EUR' } }));
    expect((await emailOf(voucher.id)).content).toBe('Your voucher of 10.00 EUR was credited on 2026-10-22; 4.99 EUR of it paid the charges that were waiting for a top-up. Your balance is now 5.01 EUR.');
    const bank = await asWallets('balanceTopup', 'w', topup('bank', { channel: 'BANK_TRANSFER', balance: undefined, duePaid: undefined }));
    expect((await emailOf(bank.id)).content).toBe('Your bank transfer of 20.00 EUR was credited on 2026-10-22.');
  });

  // Session 29: a top-up on a committed-spend budget that paid charges with the budget's headroom, the budget
  // replenished in the same step. The event now carries the balance after the replenishment and by how much;
  // the message says both, and does not call charges beyond the top-up "of it".
  it('a top-up on a budget wallet that set off a replenishment: what was paid, the replenishment, the balance after it', async () => {
    const e = await asWallets('balanceTopup', 'w', topup('bud', { amount: '30', duePaid: '150', replenished: '200', balance: { amount: '110', currency: 'EUR' } }));
    expect((await emailOf(e.id)).content).toBe(
      'Your top-up of 30.00 EUR was credited on 2026-10-22. Together with a 200.00 EUR replenishment of your budget, it paid 150.00 EUR of charges that were waiting for a top-up. Your balance is now 110.00 EUR.',
    );
    const plain = await asWallets('balanceTopup', 'w', topup('bud-none', { replenished: '0' }));
    expect((await emailOf(plain.id)).content).toBe('Your top-up of 20.00 EUR was credited on 2026-10-22. Your balance is now 25.00 EUR.');
  });
});

describe('refund sent', () => {
  const refund = (n: string, over: Partial<RefundCreatedData> = {}): RefundCreatedData => ({
    refundId: `ref_${RUN}_${n}`,
    paymentId: `pay_${RUN}_1`,
    invoiceId: `inv_${RUN}_42`,
    invoiceNumber: 'INV-00000042',
    billingAccountId: postpaid,
    channel: 'CARD',
    amount: '12.50',
    currency: 'EUR',
    reason: 'internal note',
    creditNoteId: null,
    refundedBy: 'agent-7',
    refundedByRole: 'AGENT',
    approvedBy: null,
    approvalRequestId: null,
    refundedAt: AT.toISOString(),
    providerRef: 're_123',
    ...over,
  });

  it('to the card: the amount, the invoice and the local day (no staff note); a redelivery sends nothing more', async () => {
    const data = refund('card');
    const e = await asInvoicing('refundCreated', data.refundId, data);
    const rows = await sentFor(e.id);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'REFUND_SENT', subject: 'Refund on its way' });
      expect(r.content).toBe('We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement.');
    }
    await redeliver('refundCreated', e);
    const after = await asInvoicing('refundCreated', 'r', refund('after'));
    await sentFor(after.id);
    expect(await messagesOf(e.id)).toHaveLength(2);
  });

  it('a refund that reopens the invoice says what is due again and by when; an old event or one that reopens nothing does not', async () => {
    const reopened = await asInvoicing('refundCreated', 'r', refund('reopen', { reopened: true, amountDue: '12.50', dueDate: '2026-11-04T23:00:00.000Z' }));
    expect((await emailOf(reopened.id)).content).toBe(
      'We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement. Invoice INV-00000042 owes 12.50 EUR again, due on 2026-11-05: pay it in the app, or by bank transfer with the reference INV-00000042.',
    );
    const late = await asInvoicing('refundCreated', 'r', refund('reopen-late', { channel: 'BANK_TRANSFER', providerRef: null, amount: '10', reopened: true, amountDue: '10', dueDate: '2026-10-15T22:00:00.000Z' }));
    expect((await emailOf(late.id)).content).toBe(
      'We are paying 10.00 EUR back to you by bank transfer for your payment of invoice INV-00000042 (refund of 2026-10-22). It can take a few business days to reach you. Invoice INV-00000042 owes 10.00 EUR again; it was due on 2026-10-16, so please pay it now: pay it in the app, or by bank transfer with the reference INV-00000042.',
    );
    // Autopay accounts (invoicing says what autopay does with it): reopened before its due date the card on
    // file is charged then; after it, the card is not charged again and the customer is asked to pay.
    const charged = await asInvoicing('refundCreated', 'r', refund('reopen-autopay', { reopened: true, amountDue: '12.50', dueDate: '2026-11-04T23:00:00.000Z', autopayCharge: 'DUE_DATE' }));
    expect((await emailOf(charged.id)).content).toBe(
      'We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement. Invoice INV-00000042 owes 12.50 EUR again, due on 2026-11-05: we will charge it to your card on file on that day.',
    );
    const notCharged = await asInvoicing('refundCreated', 'r', refund('reopen-autopay-late', { reopened: true, amountDue: '12.50', dueDate: '2026-10-15T22:00:00.000Z', autopayCharge: 'NONE' }));
    expect((await emailOf(notCharged.id)).content).toBe(
      'We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement. Invoice INV-00000042 owes 12.50 EUR again; it was due on 2026-10-16, so please pay it now: your card on file is not charged for it automatically. Pay it in the app, or by bank transfer with the reference INV-00000042.',
    );
    // Refunded after the due date, before autopay's due-date charge was made: the card is charged only what
    // was owed before the refund; the refunded money is the customer's to pay.
    const part = await asInvoicing('refundCreated', 'r', refund('reopen-autopay-part', { reopened: true, amountDue: '25.69', dueDate: '2026-10-15T22:00:00.000Z', autopayCharge: 'DUE_DATE', autopayAmount: '15.69' }));
    expect((await emailOf(part.id)).content).toBe(
      'We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement. Invoice INV-00000042 owes 25.69 EUR again: we will charge 15.69 EUR of it to your card on file. The other 10.00 EUR is not charged to your card; it was due on 2026-10-16, so please pay it now: pay it in the app, or by bank transfer with the reference INV-00000042.',
    );
    const kept = await asInvoicing('refundCreated', 'r', refund('kept', { reopened: false, amountDue: '0.00', dueDate: '2026-11-04T23:00:00.000Z' }));
    expect((await emailOf(kept.id)).content).toBe('We refunded 12.50 EUR to the card you paid invoice INV-00000042 with, on 2026-10-22. It can take a few business days to show on your statement.');
  });

  it('a bank transfer paid back, and a closed prepaid account whose balance was paid out', async () => {
    const bank = await asInvoicing('refundCreated', 'r', refund('bank', { channel: 'BANK_TRANSFER', providerRef: null }));
    expect((await emailOf(bank.id)).content).toBe('We are paying 12.50 EUR back to you by bank transfer for your payment of invoice INV-00000042 (refund of 2026-10-22). It can take a few business days to reach you.');
    const payout: WalletPaidOutData = {
      payoutId: `pyo_${RUN}`,
      walletId: `wal_${RUN}`,
      billingAccountId: prepaid,
      amount: { amount: '7.5', currency: 'EUR' },
      balanceAfter: { amount: '0', currency: 'EUR' },
      payoutReference: 'PO-000123',
      paidOutBy: 'finance-1',
      paidOutByRole: 'ADMIN',
      paidOutAt: AT.toISOString(),
    };
    const e = await asWallets('walletPaidOut', payout.walletId, payout);
    expect(await emailOf(e.id)).toMatchObject({
      template: 'REFUND_SENT',
      subject: 'Refund on its way',
      content: 'We paid the balance of your closed account, 7.50 EUR, back to you by bank transfer on 2026-10-22 (reference PO-000123). It can take a few business days to reach you.',
    });
  });
});

describe('a bill that account credit pays at issue', () => {
  const bill = (n: string, over: Partial<CustomerBillCreatedData> = {}): CustomerBillCreatedData => ({
    invoiceId: `inv_${RUN}_b${n}`,
    number: 'INV-00000050',
    billingAccountId: postpaid,
    state: 'SENT',
    periodStart: '2026-08-31T22:00:00.000Z',
    periodEnd: '2026-09-30T22:00:00.000Z',
    currency: 'EUR',
    netTotal: '30.00',
    taxTotal: '5.70',
    total: '35.70',
    usageAmount: '0',
    usageRecords: 0,
    dueDate: '2026-10-21T23:30:00.000Z',
    paymentReference: 'INV-00000050',
    ...over,
  });

  it('paid in full by the credit: nothing to pay, no due date', async () => {
    const e = await asInvoicing('customerBillCreated', 'b', bill('full', { creditApplied: '35.70', amountDue: '0.00' }));
    expect(await emailOf(e.id)).toMatchObject({
      template: 'BILL_ISSUED',
      subject: 'Your bill INV-00000050 is ready',
      content: 'Your bill INV-00000050 for 2026-09-01 to 2026-09-30 is 35.70 EUR. Your account credit paid it in full: there is nothing to pay.',
    });
  });

  it('paid in part: what is left, by when and how (the card on file is charged only what is left)', async () => {
    const e = await asInvoicing('customerBillCreated', 'b', bill('part', { creditApplied: '10.00', amountDue: '25.70' }));
    expect((await emailOf(e.id)).content).toBe('Your bill INV-00000050 for 2026-09-01 to 2026-09-30 is 35.70 EUR. Your account credit paid 10.00 EUR of it, so 25.70 EUR is left to pay, due on 2026-10-22. Pay it in the app, or by bank transfer with the reference INV-00000050.');
    const auto = await asInvoicing('customerBillCreated', 'b', bill('part-auto', { billingAccountId: autopay, creditApplied: '10.00', amountDue: '25.70' }));
    expect((await emailOf(auto.id)).content).toBe('Your bill INV-00000050 for 2026-09-01 to 2026-09-30 is 35.70 EUR. Your account credit paid 10.00 EUR of it, so 25.70 EUR is left to pay, due on 2026-10-22. We will charge 25.70 EUR to your card on file on that day.');
  });
});
