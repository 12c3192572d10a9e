// A refund of a payment (money given back to the customer: refundPayment, an approved refund request, a
// REFUND credit note) had no event: partner systems (ERP, general ledger, CRM) subscribed to the billing
// events learned of payments (payment.created) and of payouts from the suspense list
// (payment.unappliedrefunded), but never that money went back to a customer.
// Correct: billing.invoicing.refund.created (RefundCreateEvent, TMF670 Refund) per refund row, written
// to invoicing's outbox in the transaction that records the refund, keyed by the refund: a replayed
// request (same key) or a second approval publishes nothing again. Checked on the real JetStream stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliverPolicy } from '@nats-io/jetstream';
import { BILLING_STREAM, type Caller } from '@ledgerline/contracts';
import { startHarness, waitFor, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

/** The subject partners subscribe to, spelled as they would. */
const SUBJECT = 'billing.invoicing.refund.created';

let h: Harness;
/** Every refund.created message that reached the stream since this file started: its Nats-Msg-Id and CloudEvent. */
const received: { msgId: string | undefined; event: any }[] = [];
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const since = new Date();
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
  const consumer = await h.svc.runtime.messaging.js.consumers.get(BILLING_STREAM.name, { filter_subjects: SUBJECT, deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() });
  const messages = await consumer.consume();
  const loop = (async () => {
    for await (const m of messages) received.push({ msgId: m.headers?.get('Nats-Msg-Id'), event: m.json() });
  })();
  stop = async () => {
    await messages.close();
    await loop;
  };
});
afterAll(async () => {
  await stop?.();
  await h?.svc.close();
});

const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam-rfe', scopes: [] };
const ANN = agent('agent-ann-rfe');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue-rfe', scopes: ['billing:approve'] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } approvalRequest { id status } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } approvalRequest { id status } } }';
const APPROVE = 'mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { id status resultId } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id number total { amount } lines { id } } }';
const { as, db, outbox } = disputeCalls(() => h);

const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const refundRows = async (paymentId: string) => (await db().execute('select id, provider_ref, credit_note_id from refund where payment_id = ? order by created_at, id', [paymentId])) as any[];
const onStream = (paymentId: string) => received.filter((r) => r.event?.data?.paymentId === paymentId);
const inOutbox = async (paymentId: string) => (await outbox(SUBJECT)).filter((e: any) => e.data.paymentId === paymentId);

/** The events of the payment once `n` arrived (no event: times out), after a pause in which a duplicate would show. */
async function announced(paymentId: string, n: number): Promise<{ msgId: string | undefined; event: any }[]> {
  await waitFor(async () => onStream(paymentId).length >= n, 10_000).catch(() => {
    throw new Error(`expected ${n} ${SUBJECT} event(s) for payment ${paymentId} on the stream, got ${onStream(paymentId).length}`);
  });
  await new Promise((r) => setTimeout(r, 1500));
  return onStream(paymentId);
}

describe('billing.invoicing.refund.created', () => {
  it('a staff refund of a card payment is announced once, with what a ledger needs; a replay of the request announces nothing again', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rfe_card', 'cus_rfe_card')).id);
    const payment = await pay(inv.id, 'CARD', inv.total.amount, 'rfe-card-pay');
    h.clock.advance(3_600_000);
    const at = h.clock.now().toISOString();
    const input = { i: { paymentId: payment, amount: { amount: '12.34', currency: 'EUR' }, idempotencyKey: 'rfe-card-refund', reason: 'Customer moved abroad' } };
    expect((await as(ADMIN, REFUND, input)).refundPayment.payment.refundedAmount.amount).toBe('12.34');
    h.clock.advance(60_000);
    expect((await as(ADMIN, REFUND, input)).refundPayment.payment.refundedAmount.amount, 'the replay refunds nothing more').toBe('12.34');

    const [row] = await refundRows(payment);
    expect(row.provider_ref).toMatch(/^re_sandbox_/);
    const events = await announced(payment, 1);
    expect(events).toHaveLength(1);
    const [{ msgId, event }] = events;
    expect(event).toMatchObject({ specversion: '1.0', source: 'ledgerline/invoicing', type: 'RefundCreateEvent', subject: row.id, time: at });
    expect(msgId, 'de-duplicated by the event id').toBe(event.id);
    expect(event.data).toEqual({
      refundId: row.id,
      paymentId: payment,
      invoiceId: inv.id,
      invoiceNumber: inv.number,
      billingAccountId: 'acc_rfe_card',
      channel: 'CARD',
      amount: '12.34',
      currency: 'EUR',
      reason: 'Customer moved abroad',
      creditNoteId: null,
      refundedBy: 'ops-adam-rfe',
      refundedByRole: 'ADMIN',
      approvedBy: null,
      approvalRequestId: null,
      refundedAt: at,
      providerRef: row.provider_ref,
      // Since 2027-01-30: the refund gave back money paid on the settled invoice, which owes it again (REFUND_SENT says so).
      reopened: true,
      amountDue: '12.34',
      dueDate: expect.any(String),
    });
    expect(await inOutbox(payment), 'one outbox row').toHaveLength(1);
  });

  it("an agent's refund above the limit is announced only once a supervisor approves it, naming both; approving again announces nothing", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rfe_apr', 'cus_rfe_apr')).id);
    const payment = await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'rfe-apr-pay');
    const asked = (await as(ANN, REFUND, { i: { paymentId: payment, amount: { amount: '8.00', currency: 'EUR' }, idempotencyKey: 'rfe-apr-refund', reason: 'Double charge' } })).refundPayment;
    expect(asked.approvalRequest.status).toBe('PENDING');
    expect(await inOutbox(payment), 'nothing moved, nothing announced').toHaveLength(0);

    h.clock.advance(600_000);
    const at = h.clock.now().toISOString();
    const approved = (await as(SUE, APPROVE, { i: { id: asked.approvalRequest.id } })).approveRequest.approvalRequest;
    expect(approved.status).toBe('APPROVED');
    await as(SUE, APPROVE, { i: { id: asked.approvalRequest.id } });

    const [row] = await refundRows(payment);
    expect(approved.resultId).toBe(row.id);
    const events = await announced(payment, 1);
    expect(events).toHaveLength(1);
    expect(events[0]!.event.data).toEqual({
      refundId: row.id,
      paymentId: payment,
      invoiceId: inv.id,
      invoiceNumber: inv.number,
      billingAccountId: 'acc_rfe_apr',
      channel: 'BANK_TRANSFER',
      amount: '8.00',
      currency: 'EUR',
      reason: 'Double charge',
      creditNoteId: null,
      refundedBy: 'agent-ann-rfe',
      refundedByRole: 'AGENT',
      approvedBy: 'super-sue-rfe',
      approvalRequestId: asked.approvalRequest.id,
      refundedAt: at,
      providerRef: null,
      reopened: true,
      amountDue: '8.00',
      dueDate: expect.any(String),
    });
  });

  it('a reason the event cannot carry (over 2000 characters) is refused naming input.reason, before any money moves', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rfe_long', 'cus_rfe_long')).id);
    const payment = await pay(inv.id, 'CARD', inv.total.amount, 'rfe-long-pay');
    const r = await h.svc.request<any>(REFUND, { i: { paymentId: payment, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'rfe-long', reason: 'x'.repeat(2001) } }, ADMIN);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REFUND_REASON_TOO_LONG', field: 'input.reason' });
    expect(await refundRows(payment)).toEqual([]);
    expect([...h.payments.refunds.keys()].filter((k) => k.includes('rfe-long')), 'nothing refunded at the provider').toEqual([]);

    // An agent above the approval limit is refused alike: no request is stored (it would have kept the reason cut to 2000).
    const asAgent = await h.svc.request<any>(REFUND, { i: { paymentId: payment, amount: { amount: '9.00', currency: 'EUR' }, idempotencyKey: 'rfe-long-agent', reason: 'y'.repeat(2001) } }, ANN);
    expect(asAgent.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REFUND_REASON_TOO_LONG', field: 'input.reason' });
    expect(await db().execute("select id from approval_request where subject_id = ?", [payment])).toEqual([]);
  });

  it('a REFUND credit note announces a refund per payment it gives money back from; its replay announces nothing again', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rfe_note', 'cus_rfe_note')).id);
    const bank = await pay(inv.id, 'BANK_TRANSFER', '10.00', 'rfe-note-bank');
    const card = await pay(inv.id, 'CARD', '20.00', 'rfe-note-card');
    const at = h.clock.now().toISOString();
    const note = { i: { invoiceId: inv.id, kind: 'REFUND', reason: 'Service never worked', lines: [{ invoiceLineId: inv.lines[0].id, amount: '30.00' }], idempotencyKey: 'rfe-note' } };
    const noteId = (await as(ADMIN, ISSUE, note)).issueCreditNote.creditNote.id;
    await as(ADMIN, ISSUE, note);

    for (const [payment, channel, amount] of [[bank, 'BANK_TRANSFER', '10.00'], [card, 'CARD', '20.00']] as const) {
      const [row] = await refundRows(payment);
      expect(row.credit_note_id).toBe(noteId);
      const events = await announced(payment, 1);
      expect(events, `${channel}: one event`).toHaveLength(1);
      expect(events[0]!.event.data).toEqual({
        refundId: row.id,
        paymentId: payment,
        invoiceId: inv.id,
        invoiceNumber: inv.number,
        billingAccountId: 'acc_rfe_note',
        channel,
        amount,
        currency: 'EUR',
        reason: 'Service never worked',
        creditNoteId: noteId,
        refundedBy: 'ops-adam-rfe',
        refundedByRole: 'ADMIN',
        approvedBy: null,
        approvalRequestId: null,
        refundedAt: at,
        providerRef: row.provider_ref,
        // A REFUND note lowers the invoice by what it pays back: nothing is owed again by it.
        reopened: false,
        amountDue: '5.69',
        dueDate: expect.any(String),
      });
    }
  });
});
