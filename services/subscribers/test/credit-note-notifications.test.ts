import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type CreditNoteCreatedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * "We issued a credit note on your invoice": invoicing's creditnote.created becomes the customer message
 * CREDIT_NOTE_ISSUED through the same consumers, store and sender as a bill. It says what the note does —
 * lowers what the invoice asks for (what was already paid becoming account credit), goes on the account's
 * credit, or is paid back — what the invoice then owes and by when, and why when the reason is one a customer
 * may be told (a dispute upheld, a charge waived); never the staff's reason. Money in the currency's minor
 * unit, days as local days of the account's time zone (Europe/Berlin: 23:30 UTC on 21 October is 22
 * October there). An event from before the new fields still gets a sensible message. Published on the real
 * BILLING stream as invoicing's outbox relay publishes it; a redelivered event sends nothing twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let postpaid = '';
const RUN = Math.random().toString(36).slice(2, 8);
const AT = new Date('2026-10-21T23:30:00.000Z');

let seq = 0;
async function publish(data: object) {
  const event = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.creditNoteCreated.type, subject: `cn_${RUN}_${++seq}`, time: AT, key: ['creditNoteCreated', RUN, String(seq)], data });
  await js.publish(EVENTS.creditNoteCreated.subject, JSON.stringify(event), { msgID: event.id });
  return event;
}
const emailOf = async (eventId: string) => (await sentForEvent(h, eventId)).find((r) => r.channel === 'EMAIL')!;

const note = (n: string, over: Partial<CreditNoteCreatedData> = {}): CreditNoteCreatedData => ({
  creditNoteId: `cn_${RUN}_${n}`,
  number: 'CN-00000007',
  invoiceId: `inv_${RUN}_42`,
  billingAccountId: postpaid,
  kind: 'CREDIT',
  total: '5',
  taxTotal: '0.80',
  currency: 'EUR',
  lines: [{ invoiceLineId: `il_${RUN}`, amount: '5.00', taxAmount: '0.80' }],
  invoiceNumber: 'INV-00000042',
  creditAmount: '0.00',
  amountDue: '30.69',
  dueDate: '2026-11-04T23:00:00.000Z',
  cause: null,
  ...over,
});

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: 'Cee Enn', kind: 'INDIVIDUAL', email: 'cee@example.com', phone: '+4915199900088', notificationPreferences: { sms: true, email: true } },
  });
  postpaid = (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', timezone: 'Europe/Berlin' } }))
    .openBillingAccount.billingAccount.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('credit note issued', () => {
  it('a credit on an unpaid invoice: an SMS and an e-mail with the note, the invoice, what is left to pay and by when (no staff reason); a redelivery sends nothing more', async () => {
    const e = await publish({ ...note('open'), reason: 'internal: goodwill, customer threatened to churn' });
    const rows = await sentForEvent(h, e.id);
    expect(rows.map((r) => r.channel)).toEqual(['EMAIL', 'SMS']);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'CREDIT_NOTE_ISSUED', subject: 'A credit on your invoice INV-00000042' });
      expect(r.content).toBe('We issued credit note CN-00000007 of 5.00 EUR on invoice INV-00000042 on 2026-10-22. It lowers what you owe on that invoice: 30.69 EUR is left to pay, due on 2026-11-05.');
      expect(r.content).not.toContain('churn');
    }
    await js.publish(EVENTS.creditNoteCreated.subject, JSON.stringify(e), { msgID: `${e.id}-redelivered` });
    await sentForEvent(h, (await publish(note('after'))).id);
    expect(await messagesOfEvent(h, e.id)).toHaveLength(2);
  });

  it('a credit on a paid invoice becomes account credit; a dispute upheld and a charge waived say why', async () => {
    const paid = await publish(note('paid', { creditAmount: '5.00', amountDue: '0.00', cause: 'DISPUTE_ACCEPTED' }));
    expect((await emailOf(paid.id)).content).toBe(
      'We issued credit note CN-00000007 of 5.00 EUR on invoice INV-00000042 on 2026-10-22, for your dispute we upheld. You had already paid that invoice: 5.00 EUR stays on your account as credit for your next bills. Nothing more is due on the invoice.',
    );
    const waived = await publish(note('waived', { total: '12.345', currency: 'JOD', creditAmount: '2.000', amountDue: '0.000', cause: 'CHARGE_WAIVED' }));
    expect((await emailOf(waived.id)).content).toBe(
      'We issued credit note CN-00000007 of 12.345 JOD on invoice INV-00000042 on 2026-10-22, for a charge we waived. It lowers what you owe on that invoice; 2.000 JOD of it you had already paid stays on your account as credit for your next bills. Nothing more is due on the invoice.',
    );
  });

  it("the fees after the account's closure given back say so, with the closing day in the account's zone", async () => {
    // Invoicing's closure credit (cause ACCOUNT_CLOSED): 22:30 UTC on 19 October is 20 October in Berlin.
    const closure = { cause: 'ACCOUNT_CLOSED' as const, accountClosedAt: '2026-10-19T22:30:00.000Z', total: '13.82', taxTotal: '2.21' };
    const open = await publish(note('closed-open', { ...closure, amountDue: '21.87' }));
    expect((await emailOf(open.id)).content).toBe(
      'We issued credit note CN-00000007 of 13.82 EUR on invoice INV-00000042 on 2026-10-22, for the fees of the days after your account was closed on 2026-10-20. It lowers what you owe on that invoice: 21.87 EUR is left to pay, due on 2026-11-05.',
    );
    const paid = await publish(note('closed-paid', { ...closure, creditAmount: '13.82', amountDue: '0.00' }));
    expect((await emailOf(paid.id)).content).toBe(
      'We issued credit note CN-00000007 of 13.82 EUR on invoice INV-00000042 on 2026-10-22, for the fees of the days after your account was closed on 2026-10-20. You had already paid that invoice: 13.82 EUR stays on your account as credit for your next bills. Nothing more is due on the invoice.',
    );
  });

  it('account credit (OFFSET), paid back (REFUND), and an invoice whose due date has passed', async () => {
    const offset = await publish(note('offset', { kind: 'OFFSET', creditAmount: '5.00', amountDue: '0.00' }));
    expect((await emailOf(offset.id)).content).toBe('We issued credit note CN-00000007 of 5.00 EUR on invoice INV-00000042 on 2026-10-22. It is credit on your account: it pays what is open on your bills, then your next ones. Nothing more is due on the invoice.');
    const refund = await publish(note('refund', { kind: 'REFUND', amountDue: '0.00' }));
    expect((await emailOf(refund.id)).content).toBe('We issued credit note CN-00000007 of 5.00 EUR on invoice INV-00000042 on 2026-10-22. We are paying it back to you: a separate message tells you how the money reaches you.');
    const late = await publish(note('late', { dueDate: '2026-10-15T22:00:00.000Z' }));
    expect((await emailOf(late.id)).content).toBe('We issued credit note CN-00000007 of 5.00 EUR on invoice INV-00000042 on 2026-10-22. It lowers what you owe on that invoice: 30.69 EUR is left to pay; it was due on 2026-10-16, so please pay it now.');
  });

  it('an event from before the new fields: the note, the amount and what a credit note of its kind does', async () => {
    const { invoiceNumber: _n, creditAmount: _c, amountDue: _a, dueDate: _d, cause: _r, ...old } = note('old');
    const e = await publish(old);
    expect(await emailOf(e.id)).toMatchObject({
      subject: 'A credit on your invoice',
      content: 'We issued credit note CN-00000007 of 5.00 EUR on your invoice on 2026-10-22. It lowers what that invoice asks for; any part of it you had already paid stays on your account as credit for your next bills.',
    });
  });
});
