import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type CreditNoteCreatedData, type DisputeResolvedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { sentForEvent, type MessageRow } from './messages-support';

/**
 * An upheld dispute is one message: invoicing's acceptance issues a credit note (creditnote.created, its
 * `disputeId` naming the dispute) and closes the dispute (dispute.resolved, its `creditNote` saying what the
 * note did and what the invoice then owes). The customer is told once, by the dispute's message, which says
 * what the credit note does; the note's own CREDIT_NOTE_ISSUED is not sent. The two events come over
 * different durables, so in either order, and redelivered, the account gets exactly that one message. Before,
 * it got two (DISPUTE_ACCEPTED, then CREDIT_NOTE_ISSUED for the same money). A note that covered a dispute it
 * was not issued for (staff's) is still told as a credit note. Published on the real BILLING stream as
 * invoicing's outbox relay publishes them; Europe/Berlin account (23:00 UTC on 4 November is 5 November there).
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let customerId = '';
const RUN = Math.random().toString(36).slice(2, 8);
const AT = new Date('2026-10-21T10:00:00.000Z');
const DUE = '2026-11-04T23:00:00.000Z';

async function publish(name: 'creditNoteCreated' | 'disputeResolved', subject: string, step: string, data: object, again = false) {
  const event = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS[name].type, subject, time: AT, key: [subject, step], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: again ? `${event.id}-redelivered` : event.id });
  return event;
}
const noteEvent = (data: CreditNoteCreatedData, again = false) => publish('creditNoteCreated', data.creditNoteId, 'created', data, again);
const resolvedEvent = (data: DisputeResolvedData, again = false) => publish('disputeResolved', data.disputeId, 'resolved', data, again);

const openAccount = async (): Promise<string> =>
  (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', timezone: 'Europe/Berlin' } })).openBillingAccount.billingAccount.id;

const messagesOfAccount = (accountId: string): Promise<MessageRow[]> =>
  h.rows<MessageRow>(`select channel, receiver, template, subject, content, state from communication_message where billing_account_id = $1 order by created_at, id`, [accountId]);

/** Waits until both durables have read past what was published: a later note and a later dispute of another account are sent. */
async function bothConsumersPassed(): Promise<void> {
  const other = await openAccount();
  const n = await noteEvent(note(other, `later_${Math.random().toString(36).slice(2, 8)}`, { disputeId: null, cause: null }));
  const d = await resolvedEvent({ ...dispute(other, `later_${Math.random().toString(36).slice(2, 8)}`), status: 'REJECTED', creditedAmount: null, creditNoteId: null, creditNote: null });
  await sentForEvent(h, n.id);
  await sentForEvent(h, d.id);
}

const note = (accountId: string, n: string, over: Partial<CreditNoteCreatedData> = {}): CreditNoteCreatedData => ({
  creditNoteId: `crn_${RUN}_${n}`,
  number: 'CN-00000009',
  invoiceId: `inv_${RUN}_${n}`,
  billingAccountId: accountId,
  kind: 'CREDIT',
  total: '12.00',
  taxTotal: '1.92',
  currency: 'EUR',
  lines: [{ invoiceLineId: `il_${RUN}_${n}`, amount: '12.00', taxAmount: '1.92' }],
  invoiceNumber: 'INV-00000042',
  creditAmount: '0.00',
  amountDue: '30.69',
  dueDate: DUE,
  cause: 'DISPUTE_ACCEPTED',
  disputeId: `dsp_${RUN}_${n}`,
  ...over,
});

const dispute = (accountId: string, n: string, over: Partial<DisputeResolvedData> = {}): DisputeResolvedData => ({
  disputeId: `dsp_${RUN}_${n}`,
  invoiceId: `inv_${RUN}_${n}`,
  billingAccountId: accountId,
  status: 'ACCEPTED',
  amount: '12.00',
  currency: 'EUR',
  creditedAmount: '12.00',
  creditNoteId: `crn_${RUN}_${n}`,
  decidedBy: 'agent-ana',
  decisionNote: 'Call was billed twice',
  invoiceNumber: 'INV-00000042',
  invoiceState: 'SENT',
  creditNote: { number: 'CN-00000009', creditAmount: '0.00', amountDue: '30.69', dueDate: DUE },
  ...over,
});

const UPHELD = 'Your dispute of 12.00 EUR on invoice INV-00000042 was upheld with credit note CN-00000009 of 12.00 EUR. It lowers what you owe on that invoice: 30.69 EUR is left to pay, due on 2026-11-05.';

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  customerId = (await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Una Upheld', kind: 'INDIVIDUAL', email: 'una@example.com', notificationPreferences: { sms: false, email: true } } })).createCustomer
    .customer.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('an upheld dispute and its credit note: one message', () => {
  it('the credit note first, then the dispute: one message saying the dispute was upheld, what the note does and what is then owed', async () => {
    const acc = await openAccount();
    await noteEvent(note(acc, 'nf'));
    const resolved = await resolvedEvent(dispute(acc, 'nf'));
    await sentForEvent(h, resolved.id);
    await bothConsumersPassed();
    const rows = await messagesOfAccount(acc);
    expect(rows.map((r) => r.template)).toEqual(['DISPUTE_ACCEPTED']);
    expect(rows[0]).toMatchObject({ subject: 'Your dispute was upheld', content: UPHELD });
  });

  it('the dispute first, then the credit note, each redelivered: still that one message', async () => {
    const acc = await openAccount();
    const resolved = await resolvedEvent(dispute(acc, 'df'));
    await sentForEvent(h, resolved.id);
    const n = await noteEvent(note(acc, 'df'));
    await noteEvent(note(acc, 'df'), true);
    await resolvedEvent(dispute(acc, 'df'), true);
    await bothConsumersPassed();
    const rows = await messagesOfAccount(acc);
    expect(rows.map((r) => r.template)).toEqual(['DISPUTE_ACCEPTED']);
    expect(rows[0]!.content).toBe(UPHELD);
    expect(n.id).not.toBe(resolved.id);
  });

  it('partly upheld on an unpaid invoice, and upheld on a paid one: what the note does there', async () => {
    const acc = await openAccount();
    const part = await resolvedEvent(
      dispute(acc, 'part', { creditedAmount: '5.00', decisionNote: 'Only the roaming surcharge was wrong', creditNote: { number: 'CN-00000010', creditAmount: '0.00', amountDue: '37.69', dueDate: '2026-10-15T22:00:00.000Z' } }),
    );
    await noteEvent(note(acc, 'part', { number: 'CN-00000010', total: '5.00', amountDue: '37.69' }));
    const paid = await resolvedEvent(dispute(acc, 'paid', { invoiceState: 'SETTLED', creditNote: { number: 'CN-00000011', creditAmount: '12.00', amountDue: '0.00', dueDate: DUE } }));
    await noteEvent(note(acc, 'paid', { number: 'CN-00000011', creditAmount: '12.00', amountDue: '0.00' }));
    expect((await sentForEvent(h, part.id))[0]!.content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-00000042 was partly upheld with credit note CN-00000010 of 5.00 EUR; the other 7.00 EUR is due again. It lowers what you owe on that invoice: 37.69 EUR is left to pay; it was due on 2026-10-16, so please pay it now. Only the roaming surcharge was wrong.',
    );
    expect((await sentForEvent(h, paid.id))[0]!.content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-00000042 was upheld with credit note CN-00000011 of 12.00 EUR. You had already paid that invoice: 12.00 EUR stays on your account as credit for your next bills. Nothing more is due on the invoice.',
    );
    await bothConsumersPassed();
    expect((await messagesOfAccount(acc)).map((r) => r.template).sort()).toEqual(['DISPUTE_ACCEPTED', 'DISPUTE_PARTLY_ACCEPTED']);
  });

  it("a staff note that covered a dispute it was not issued for is still told as a credit note; events from before the link are told as before", async () => {
    const acc = await openAccount();
    const staff = await noteEvent(note(acc, 'staff', { cause: null, disputeId: null }));
    const covered = await resolvedEvent(dispute(acc, 'staff', { decidedBy: 'creditNote:CN-00000009', decisionNote: 'Credited by credit note CN-00000009.', creditNote: null }));
    expect((await sentForEvent(h, staff.id))[0]!.template).toBe('CREDIT_NOTE_ISSUED');
    expect((await sentForEvent(h, covered.id))[0]!.content).toBe('Your dispute of 12.00 EUR on invoice INV-00000042 was upheld: 12.00 EUR is credited to that invoice.');
  });
});
