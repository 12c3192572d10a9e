import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type CreditNoteCreatedData, type CustomerBillCreatedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { sentForEvent, type MessageRow } from './messages-support';

/**
 * A draft billed past its account's closure is credited as it is issued (invoicing's closure credit: a CREDIT
 * note, cause ACCOUNT_CLOSED, in the transaction that issues the invoice). Before, the customer got BILL_ISSUED
 * saying the whole bill was due, then CREDIT_NOTE_ISSUED with the lower amount. Now the bill's event names the
 * note (`closureCredit`) and says what is due once it (and account credit) are applied, and the note's event says
 * it was issued with its invoice (`issuedWithInvoice`): the customer gets one message, the bill's, saying what is
 * due and why it is less. The two events come over different durables, so in either order, and redelivered, it is
 * that one message. A closure note issued after the bill (the account closed once the bill was out) is still told
 * on its own. Published on the real BILLING stream as invoicing's outbox relay publishes them; Europe/Berlin
 * account (22:30 UTC on 19 October is 20 October there; 23:00 UTC on 16 November is 17 November).
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let customerId = '';
const RUN = Math.random().toString(36).slice(2, 8);
const AT = new Date('2026-11-02T10:00:00.000Z');
const DUE = '2026-11-16T23:00:00.000Z';
const CLOSED_AT = '2026-10-19T22:30:00.000Z';

async function publish(name: 'creditNoteCreated' | 'customerBillCreated', subject: string, step: string, data: object, again = false) {
  const event = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS[name].type, subject, time: AT, key: [subject, step], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: again ? `${event.id}-redelivered` : event.id });
  return event;
}
const noteEvent = (data: CreditNoteCreatedData, again = false) => publish('creditNoteCreated', data.creditNoteId, 'created', data, again);
const billEvent = (data: CustomerBillCreatedData, again = false) => publish('customerBillCreated', data.invoiceId, 'issued', data, again);

const openAccount = async (): Promise<string> =>
  (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', timezone: 'Europe/Berlin' } })).openBillingAccount.billingAccount.id;

const messagesOfAccount = (accountId: string): Promise<MessageRow[]> =>
  h.rows<MessageRow>(`select channel, receiver, template, subject, content, state from communication_message where billing_account_id = $1 order by created_at, id`, [accountId]);

/** Waits until both durables have read past what was published: a later note and a later bill of another account are sent. */
async function bothConsumersPassed(): Promise<void> {
  const other = await openAccount();
  const tag = `later_${Math.random().toString(36).slice(2, 8)}`;
  const n = await noteEvent(note(other, tag, { cause: null, accountClosedAt: null, issuedWithInvoice: false }));
  const b = await billEvent(bill(other, tag, { closureCredit: null, amountDue: '35.69' }));
  await sentForEvent(h, n.id);
  await sentForEvent(h, b.id);
}

/** The closure note issued with the bill: 13.82 of October's 35.69 given back. */
const note = (accountId: string, n: string, over: Partial<CreditNoteCreatedData> = {}): CreditNoteCreatedData => ({
  creditNoteId: `crn_${RUN}_${n}`,
  number: 'CN-00000011',
  invoiceId: `inv_${RUN}_${n}`,
  billingAccountId: accountId,
  kind: 'CREDIT',
  total: '13.82',
  taxTotal: '2.21',
  currency: 'EUR',
  lines: [{ invoiceLineId: `il_${RUN}_${n}`, amount: '13.82', taxAmount: '2.21' }],
  invoiceNumber: 'INV-00000077',
  creditAmount: '0.00',
  amountDue: '21.87',
  dueDate: DUE,
  cause: 'ACCOUNT_CLOSED',
  disputeId: null,
  accountClosedAt: CLOSED_AT,
  issuedWithInvoice: true,
  ...over,
});

const bill = (accountId: string, n: string, over: Partial<CustomerBillCreatedData> = {}): CustomerBillCreatedData => ({
  invoiceId: `inv_${RUN}_${n}`,
  number: 'INV-00000077',
  billingAccountId: accountId,
  state: 'SENT',
  periodStart: '2026-09-30T22:00:00.000Z',
  periodEnd: '2026-10-31T23:00:00.000Z',
  currency: 'EUR',
  netTotal: '29.99',
  taxTotal: '5.70',
  total: '35.69',
  usageAmount: '0',
  usageRecords: 0,
  dueDate: DUE,
  paymentReference: 'INV-00000077',
  creditApplied: '0.00',
  amountDue: '21.87',
  closureCredit: { creditNoteId: `crn_${RUN}_${n}`, number: 'CN-00000011', amount: '13.82', accountClosedAt: CLOSED_AT },
  ...over,
});

const TOLD =
  'Your bill INV-00000077 for 2026-10-01 to 2026-10-31 is 35.69 EUR. Credit note CN-00000011 of 13.82 EUR gives back the fees of the days after your account was closed on 2026-10-20, so 21.87 EUR is left to pay, due on 2026-11-17. Pay it in the app, or by bank transfer with the reference INV-00000077.';

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  customerId = (await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Cleo Closed', kind: 'INDIVIDUAL', email: 'cleo@example.com', notificationPreferences: { sms: false, email: true } } }))
    .createCustomer.customer.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('a bill credited for the days after the closure as it is issued: one message', () => {
  it('the bill, then its closure note: one BILL_ISSUED saying what is due once the note is applied, and why', async () => {
    const acc = await openAccount();
    const b = await billEvent(bill(acc, 'bf'));
    await noteEvent(note(acc, 'bf'));
    await sentForEvent(h, b.id);
    await bothConsumersPassed();
    const rows = await messagesOfAccount(acc);
    expect(rows.map((r) => r.template)).toEqual(['BILL_ISSUED']);
    expect(rows[0]).toMatchObject({ subject: 'Your bill INV-00000077 is ready', content: TOLD });
  });

  it('the note first, then the bill, each redelivered: still that one message', async () => {
    const acc = await openAccount();
    await noteEvent(note(acc, 'nf'));
    const b = await billEvent(bill(acc, 'nf'));
    await noteEvent(note(acc, 'nf'), true);
    await billEvent(bill(acc, 'nf'), true);
    await sentForEvent(h, b.id);
    await bothConsumersPassed();
    const rows = await messagesOfAccount(acc);
    expect(rows.map((r) => r.template)).toEqual(['BILL_ISSUED']);
    expect(rows[0]!.content).toBe(TOLD);
  });

  it('account credit paid part of what was left, or the note and the credit left nothing to pay', async () => {
    const acc = await openAccount();
    const part = await billEvent(bill(acc, 'part', { creditApplied: '5.00', amountDue: '16.87' }));
    expect((await sentForEvent(h, part.id))[0]!.content).toBe(
      'Your bill INV-00000077 for 2026-10-01 to 2026-10-31 is 35.69 EUR. Credit note CN-00000011 of 13.82 EUR gives back the fees of the days after your account was closed on 2026-10-20, and your account credit paid 5.00 EUR, so 16.87 EUR is left to pay, due on 2026-11-17. Pay it in the app, or by bank transfer with the reference INV-00000077.',
    );
    const none = await billEvent(bill(acc, 'none', { creditApplied: '21.87', amountDue: '0.00' }));
    expect((await sentForEvent(h, none.id))[0]!.content).toBe(
      'Your bill INV-00000077 for 2026-10-01 to 2026-10-31 is 35.69 EUR. Credit note CN-00000011 of 13.82 EUR gives back the fees of the days after your account was closed on 2026-10-20, and your account credit paid 21.87 EUR: there is nothing to pay.',
    );
  });

  it('a closure note issued after its bill (the account closed once the bill was out) is still told on its own', async () => {
    const acc = await openAccount();
    const later = await noteEvent(note(acc, 'later', { issuedWithInvoice: false }));
    const [row] = await sentForEvent(h, later.id);
    expect(row).toMatchObject({
      template: 'CREDIT_NOTE_ISSUED',
      content: 'We issued credit note CN-00000011 of 13.82 EUR on invoice INV-00000077 on 2026-11-02, for the fees of the days after your account was closed on 2026-10-20. It lowers what you owe on that invoice: 21.87 EUR is left to pay, due on 2026-11-17.',
    });
  });
});
