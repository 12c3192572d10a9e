import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type DisputeOpenedData, type DisputeResolvedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * Invoicing's dispute events become customer messages (the same consumers, store and sender as a
 * low balance): `dispute.opened` tells the customer it was received, `dispute.resolved` how it was
 * decided. The events are published on the real BILLING stream as invoicing's outbox relay
 * publishes them (a CloudEvent keyed by dispute id and step, Nats-Msg-Id = its id); a redelivered
 * event (the same CloudEvent past NATS' dedupe) sends nothing twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let accountId = '';
let customerId = '';
const RUN = Math.random().toString(36).slice(2, 8);

async function publishAsInvoicing(name: 'disputeOpened' | 'disputeResolved', data: DisputeOpenedData | DisputeResolvedData, again = false) {
  const step = name === 'disputeOpened' ? 'opened' : 'resolved';
  const event = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS[name].type, subject: data.disputeId, time: h.clock.now(), key: [data.disputeId, step], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: again ? `${event.id}-redelivered` : event.id });
  return event;
}

const messagesOf = (eventId: string) => messagesOfEvent(h, eventId);
const sentFor = (eventId: string, ms?: number) => sentForEvent(h, eventId, ms);

const dispute = (n: string) => `dsp_${RUN}_${n}`;
const base = (n: string) => ({ disputeId: dispute(n), invoiceId: `inv_${RUN}_${n}`, billingAccountId: accountId, amount: '12.00', currency: 'EUR', invoiceNumber: 'INV-2026-000042' });

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Dora Disputes', kind: 'INDIVIDUAL', email: 'dora@example.com', notificationPreferences: { sms: false, email: true } } });
  customerId = c.createCustomer.customer.id;
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR' } });
  accountId = a.openBillingAccount.billingAccount.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('dispute notifications', () => {
  it('dispute.opened: one e-mail saying it was received, with the amount and the invoice number; a redelivery sends nothing more', async () => {
    const data: DisputeOpenedData = { ...base('open'), invoiceLineId: null, usageRecordId: null, reason: 'I never made this call' };
    const event = await publishAsInvoicing('disputeOpened', data);
    const [sent, ...more] = await sentFor(event.id);
    expect(more).toEqual([]);
    expect(sent).toMatchObject({ channel: 'EMAIL', receiver: 'dora@example.com', template: 'DISPUTE_RECEIVED', subject: 'We received your dispute' });
    expect(sent!.content).toBe('We received your dispute of 12.00 EUR on invoice INV-2026-000042. We do not ask you to pay that amount while we look into it, and we will tell you when it is decided.');

    await publishAsInvoicing('disputeOpened', data, true); // the same CloudEvent again, past NATS' dedupe
    // A later event on the same consumer: once it is stored, the redelivery has been handled too.
    const after = await publishAsInvoicing('disputeOpened', { ...data, disputeId: dispute('open-2') });
    await sentFor(after.id);
    expect(await messagesOf(event.id)).toHaveLength(1);
  });

  it('dispute.resolved ACCEPTED: one message with the credited amount', async () => {
    const event = await publishAsInvoicing('disputeResolved', { ...base('acc'), status: 'ACCEPTED', creditedAmount: '12.00', creditNoteId: 'crn_1', decidedBy: 'agent-ana', decisionNote: 'Call was billed twice' });
    const rows = await sentFor(event.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ template: 'DISPUTE_ACCEPTED', subject: 'Your dispute was upheld' });
    expect(rows[0]!.content).toBe('Your dispute of 12.00 EUR on invoice INV-2026-000042 was upheld: 12.00 EUR is credited to that invoice.');
  });

  it("dispute.resolved REJECTED: one message with the agent's note; redelivered, still one", async () => {
    const data: DisputeResolvedData = { ...base('rej'), status: 'REJECTED', creditedAmount: null, creditNoteId: null, decidedBy: 'agent-ana', decisionNote: 'The call to +4930123456 on 12 September lasted 14 minutes' };
    const event = await publishAsInvoicing('disputeResolved', data);
    await publishAsInvoicing('disputeResolved', data, true);
    const rows = await sentFor(event.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ template: 'DISPUTE_REJECTED', subject: 'Your dispute was not upheld' });
    expect(rows[0]!.content).toBe('Your dispute of 12.00 EUR on invoice INV-2026-000042 was not upheld. The call to +4930123456 on 12 September lasted 14 minutes. The amount is due again.');
    const after = await publishAsInvoicing('disputeResolved', { ...data, disputeId: dispute('rej-2') });
    await sentFor(after.id);
    expect(await messagesOf(event.id)).toHaveLength(1);
  });

  it('dispute.resolved partly upheld and withdrawn: what was credited and what is due again', async () => {
    const partly = await publishAsInvoicing('disputeResolved', { ...base('part'), status: 'ACCEPTED', creditedAmount: '5.00', creditNoteId: 'crn_2', decidedBy: 'agent-ana', decisionNote: 'Only the roaming surcharge was wrong' });
    const withdrawn = await publishAsInvoicing('disputeResolved', { ...base('wd'), status: 'WITHDRAWN', creditedAmount: null, creditNoteId: null, decidedBy: customerId });
    const [p] = await sentFor(partly.id);
    expect(p).toMatchObject({ template: 'DISPUTE_PARTLY_ACCEPTED', subject: 'Your dispute was partly upheld' });
    expect(p!.content).toBe('Your dispute of 12.00 EUR on invoice INV-2026-000042 was partly upheld: 5.00 EUR is credited to that invoice and the other 7.00 EUR is due again. Only the roaming surcharge was wrong.');
    const [w] = await sentFor(withdrawn.id);
    expect(w).toMatchObject({ template: 'DISPUTE_WITHDRAWN', subject: 'Your dispute was withdrawn' });
    expect(w!.content).toBe('Your dispute of 12.00 EUR on invoice INV-2026-000042 was withdrawn. The amount is due again.');
  });
});
