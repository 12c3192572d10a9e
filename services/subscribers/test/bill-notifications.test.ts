import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type CustomerBillCreatedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * "Your bill is ready": invoicing's customerBillCreated (an invoice issued, by a bill run, a bill cycle
 * or an account's final period) becomes a BILL_ISSUED message on the customer's channels, through the
 * same consumers, store and sender as a low balance. It names the number, the billed period and the
 * due date as local days of the account's time zone (as the invoice document prints them), the amount,
 * and how it gets paid: the card on file (autopay) or the app / a bank transfer with the invoice's
 * payment reference. A bill with nothing to pay, or a credit, says so. Published on the real BILLING
 * stream as invoicing's outbox relay publishes it; a redelivered event sends nothing twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let accountId = '';
let autopayAccountId = '';
const RUN = Math.random().toString(36).slice(2, 8);

async function publishAsInvoicing(data: CustomerBillCreatedData, again = false) {
  const event = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: data.invoiceId, time: h.clock.now(), key: [data.invoiceId, 'issued'], data });
  await js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(event), { msgID: again ? `${event.id}-redelivered` : event.id });
  return event;
}

const messagesOf = (eventId: string) => messagesOfEvent(h, eventId);
const sentFor = (eventId: string, ms?: number) => sentForEvent(h, eventId, ms);

/** A September bill of an account in Europe/Berlin: the period's local midnights are 22:00 UTC the day before. */
const bill = (n: string, over: Partial<CustomerBillCreatedData> = {}): CustomerBillCreatedData => ({
  invoiceId: `inv_${RUN}_${n}`,
  number: 'INV-00000042',
  billingAccountId: accountId,
  state: 'SENT',
  periodStart: '2026-08-31T22:00:00.000Z',
  periodEnd: '2026-09-30T22:00:00.000Z',
  currency: 'EUR',
  netTotal: '30.00',
  taxTotal: '5.70',
  total: '35.70',
  usageAmount: '0',
  usageRecords: 0,
  // Issued at 23:30 UTC on 7 October with 14 days' terms: due 22 October 01:30 in Berlin (21 October in UTC).
  dueDate: '2026-10-21T23:30:00.000Z',
  paymentReference: 'INV-00000042',
  ...over,
});

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: 'Bea Bills', kind: 'INDIVIDUAL', email: 'bea@example.com', phone: '+4915199900042', notificationPreferences: { sms: true, email: true } },
  });
  const customerId = c.createCustomer.customer.id;
  const open = async (autopayToken?: string) =>
    (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', timezone: 'Europe/Berlin', ...(autopayToken ? { autopayToken } : {}) } })).openBillingAccount.billingAccount.id as string;
  accountId = await open();
  autopayAccountId = await open('tok_visa_4242');
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('bill notifications', () => {
  it('an issued bill: an SMS and an e-mail with the number, the local period and due date, the amount and the payment reference; a redelivery sends nothing more', async () => {
    const data = bill('sep');
    const event = await publishAsInvoicing(data);
    const rows = await sentFor(event.id);
    expect(rows.map((r) => [r.channel, r.receiver])).toEqual([
      ['EMAIL', 'bea@example.com'],
      ['SMS', '+4915199900042'],
    ]);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'BILL_ISSUED', subject: 'Your bill INV-00000042 is ready' });
      expect(r.content).toBe('Your bill INV-00000042 for 2026-09-01 to 2026-09-30 is 35.70 EUR, due on 2026-10-22. Pay it in the app, or by bank transfer with the reference INV-00000042.');
    }

    await publishAsInvoicing(data, true); // the same CloudEvent again, past NATS' dedupe
    // A later event on the same consumer: once it is stored, the redelivery has been handled too.
    const after = await publishAsInvoicing(bill('sep-2'));
    await sentFor(after.id);
    expect(await messagesOf(event.id)).toHaveLength(2);
  });

  it('autopay on the account: the card on file is charged on the due date', async () => {
    const event = await publishAsInvoicing(bill('auto', { billingAccountId: autopayAccountId, number: 'INV-00000043', paymentReference: 'INV-00000043' }));
    const [email] = await sentFor(event.id);
    expect(email!.content).toBe('Your bill INV-00000043 for 2026-09-01 to 2026-09-30 is 35.70 EUR, due on 2026-10-22. We will charge it to your card on file on that day.');
  });

  it('nothing to pay, or a credit: said as such, with no due date', async () => {
    const zero = await publishAsInvoicing(bill('zero', { state: 'SETTLED', netTotal: '0.00', taxTotal: '0.00', total: '0.00' }));
    const credit = await publishAsInvoicing(bill('credit', { state: 'SETTLED', netTotal: '-4.20', taxTotal: '-0.80', total: '-5.00' }));
    const [z] = await sentFor(zero.id);
    expect(z!.content).toBe('Your bill INV-00000042 for 2026-09-01 to 2026-09-30 is 0.00 EUR: there is nothing to pay.');
    const [c] = await sentFor(credit.id);
    expect(c).toMatchObject({ template: 'BILL_ISSUED', subject: 'Your bill INV-00000042 is ready' });
    expect(c!.content).toBe('Your bill INV-00000042 for 2026-09-01 to 2026-09-30 is a credit of 5.00 EUR: it stays on your account and pays your next bills.');
  });

  it('an event from before due dates were sent: the bill without one', async () => {
    const event = await publishAsInvoicing(bill('old', { dueDate: undefined, paymentReference: undefined }));
    const [e] = await sentFor(event.id);
    expect(e!.content).toBe('Your bill INV-00000042 for 2026-09-01 to 2026-09-30 is 35.70 EUR. Pay it in the app, or by bank transfer with the reference INV-00000042.');
  });
});
