// A refund's reason and who made it lived only in its event (billing.invoicing.refund.created): the
// `refund` row had neither, and GraphQL had no refund at all, so support staff, a disputes reviewer and
// the customer's account page could not see why money went back, or who sent it.
// Correct: the refund row holds reason, refundedBy (+ refundedByRole), approvedBy and approvalRequestId,
// written with the refund in its transaction; GraphQL's Refund (Payment.refunds, RefundPaymentPayload.refund)
// reads them, null for refunds recorded before; the event is built from the row. A replayed request
// (same key, other words, another caller) changes none of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => {
  await h?.svc.close();
});

const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-olga-rra', scopes: [] };
const RIA = agent('agent-ria-rra');
const SAM: Caller = { role: 'AGENT', subject: 'super-sam-rra', scopes: ['billing:approve'] };
const REFUND_FIELDS = 'id paymentId creditNoteId amount { amount currency } providerRef reason refundedBy refundedByRole approvedBy approvalRequestId refundedAt';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { refund { ${REFUND_FIELDS} } payment { id refundedAmount { amount } } approvalRequest { id status } } }`;
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } approvalRequest { id status } } }';
const APPROVE = 'mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { id status resultId } } }';
/** What support, a disputes reviewer and the customer's account page read: the invoice's payments and their refunds. */
const READ = `query($id: ID!) { invoice(id: $id) { id total { amount } lines { id } payments { id refunds { ${REFUND_FIELDS} } } } }`;
const { as, refusal, db, outbox } = disputeCalls(() => h);

const invoice = async (id: string, caller: Caller = ADMIN) => (await as(caller, READ, { id })).invoice;
const refundsOf = async (invoiceId: string, paymentId: string, caller: Caller = ADMIN) => (await invoice(invoiceId, caller)).payments.find((p: any) => p.id === paymentId).refunds;
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const rows = async (paymentId: string) =>
  (await db().execute('select id, reason, refunded_by, refunded_by_role, approved_by, approval_request_id, credit_note_id from refund where payment_id = ? order by created_at, id', [paymentId])) as any[];
/** The refund's event as written to the outbox. */
const eventOf = async (refundId: string) => (await outbox('billing.invoicing.refund.created')).find((e: any) => e.data.refundId === refundId);

describe('a refund says why and who, on its row and in GraphQL', () => {
  it("a staff refund with a reason reads back with reason and actor, for support and for the customer; a retry changes neither", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rra_card', 'cus_rra_card')).id);
    const payment = await pay(inv.id, 'CARD', inv.total.amount, 'rra-card-pay');
    h.clock.advance(3_600_000);
    const at = h.clock.now().toISOString();
    const input = { paymentId: payment, amount: { amount: '3.00', currency: 'EUR' }, idempotencyKey: 'rra-card-refund' };
    const made = (await as(RIA, REFUND, { i: { ...input, reason: '  Roaming pack charged twice  ' } })).refundPayment;
    expect(made.approvalRequest, 'below the agent limit: made at once').toBeNull();
    const expected = {
      paymentId: payment,
      creditNoteId: null,
      amount: { amount: '3.00', currency: 'EUR' },
      reason: 'Roaming pack charged twice',
      refundedBy: 'agent-ria-rra',
      refundedByRole: 'AGENT',
      approvedBy: null,
      approvalRequestId: null,
      refundedAt: at,
    };
    expect(made.refund).toMatchObject(expected);
    expect(made.refund.providerRef).toMatch(/^re_sandbox_/);

    expect(await refundsOf(inv.id, payment), 'support reads it on the payment').toEqual([made.refund]);
    expect(await refundsOf(inv.id, payment, customer('cus_rra_card')), "and the customer's account page").toEqual([made.refund]);

    // The same key again, by someone else and with other words: the first refund, as it was.
    h.clock.advance(60_000);
    const again = (await as(ADMIN, REFUND, { i: { ...input, reason: 'Goodwill, no reason needed' } })).refundPayment;
    expect(again.refund).toEqual(made.refund);
    expect(again.payment.refundedAmount.amount, 'nothing more refunded').toBe('3');
    expect(await refundsOf(inv.id, payment)).toEqual([made.refund]);
    expect(await rows(payment)).toEqual([{ id: made.refund.id, reason: 'Roaming pack charged twice', refunded_by: 'agent-ria-rra', refunded_by_role: 'AGENT', approved_by: null, approval_request_id: null, credit_note_id: null }]);

    // The event says what the row says.
    expect((await eventOf(made.refund.id)).data).toMatchObject({ reason: 'Roaming pack charged twice', refundedBy: 'agent-ria-rra', refundedByRole: 'AGENT', approvedBy: null, approvalRequestId: null, refundedAt: at });
  });

  it("an agent's refund a supervisor approved names the requester, the supervisor and the request, with the request's reason", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rra_apr', 'cus_rra_apr')).id);
    const payment = await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'rra-apr-pay');
    const asked = (await as(RIA, REFUND, { i: { paymentId: payment, amount: { amount: '8.00', currency: 'EUR' }, idempotencyKey: 'rra-apr-refund', reason: 'Outage in the customer’s cell, 4 days' } })).refundPayment;
    expect(asked.approvalRequest.status).toBe('PENDING');
    expect(asked.refund, 'nothing refunded yet').toBeNull();
    expect(await refundsOf(inv.id, payment)).toEqual([]);

    h.clock.advance(600_000);
    const at = h.clock.now().toISOString();
    const approved = (await as(SAM, APPROVE, { i: { id: asked.approvalRequest.id } })).approveRequest.approvalRequest;
    const [refund] = await refundsOf(inv.id, payment, customer('cus_rra_apr'));
    expect(refund).toEqual({
      id: approved.resultId,
      paymentId: payment,
      creditNoteId: null,
      amount: { amount: '8.00', currency: 'EUR' },
      providerRef: null,
      reason: 'Outage in the customer’s cell, 4 days',
      refundedBy: 'agent-ria-rra',
      refundedByRole: 'AGENT',
      approvedBy: 'super-sam-rra',
      approvalRequestId: asked.approvalRequest.id,
      refundedAt: at,
    });
    await as(SAM, APPROVE, { i: { id: asked.approvalRequest.id } });
    expect(await refundsOf(inv.id, payment), 'approving again changes nothing').toEqual([refund]);
    expect((await eventOf(refund.id)).data).toMatchObject({ reason: refund.reason, refundedBy: 'agent-ria-rra', refundedByRole: 'AGENT', approvedBy: 'super-sam-rra', approvalRequestId: asked.approvalRequest.id });
  });

  it("a REFUND credit note's refunds carry the note's reason and its issuer", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rra_note', 'cus_rra_note')).id);
    const bank = await pay(inv.id, 'BANK_TRANSFER', '10.00', 'rra-note-bank');
    const card = await pay(inv.id, 'CARD', '20.00', 'rra-note-card');
    const note = { i: { invoiceId: inv.id, kind: 'REFUND', reason: 'Line never worked', lines: [{ invoiceLineId: inv.lines[0].id, amount: '30.00' }], idempotencyKey: 'rra-note' } };
    const noteId = (await as(ADMIN, ISSUE, note)).issueCreditNote.creditNote.id;
    await as(ADMIN, ISSUE, note);
    for (const payment of [bank, card]) {
      const refunds = await refundsOf(inv.id, payment);
      expect(refunds).toHaveLength(1);
      expect(refunds[0]).toMatchObject({ creditNoteId: noteId, reason: 'Line never worked', refundedBy: 'ops-olga-rra', refundedByRole: 'ADMIN', approvedBy: null, approvalRequestId: null });
      expect((await eventOf(refunds[0].id)).data).toMatchObject({ reason: 'Line never worked', refundedBy: 'ops-olga-rra', refundedByRole: 'ADMIN' });
    }
  });

  it('a refund recorded before the columns existed reads with reason and actor null', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rra_old', 'cus_rra_old')).id);
    const payment = await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'rra-old-pay');
    // As the old code wrote it (its columns only; billing_account_id as migration 20270120000000 fills it in).
    await db().execute(`insert into refund (id, payment_id, billing_account_id, amount, currency, provider_ref, idempotency_key, request_hash, created_at) values ('ref_rra_old', ?, 'acc_rra_old', 2.5, 'EUR', null, 'rra-old-refund', 'h', '2026-10-01T09:00:00Z')`, [payment]);
    expect(await refundsOf(inv.id, payment)).toEqual([
      { id: 'ref_rra_old', paymentId: payment, creditNoteId: null, amount: { amount: '2.50', currency: 'EUR' }, providerRef: null, reason: null, refundedBy: null, refundedByRole: null, approvedBy: null, approvalRequestId: null, refundedAt: '2026-10-01T09:00:00.000Z' },
    ]);
  });

  it('the longest reason refundPayment takes fits the column whole; a NUL it cannot store is refused before any money moves', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_rra_len', 'cus_rra_len')).id);
    const payment = await pay(inv.id, 'CARD', inv.total.amount, 'rra-len-pay');
    // 2000 UTF-16 units: 1000 characters outside the BMP, then 2000 accented ones.
    for (const [key, reason] of [['rra-len-astral', '😀'.repeat(1000)], ['rra-len-accent', 'é'.repeat(2000)]] as const) {
      const made = (await as(ADMIN, REFUND, { i: { paymentId: payment, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: key, reason } })).refundPayment;
      expect(made.refund.reason).toBe(reason);
    }
    expect(await refusal(ADMIN, REFUND, { i: { paymentId: payment, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'rra-len-nul', reason: 'bad\u0000byte' } })).toEqual({ code: 'BAD_USER_INPUT', reason: 'REFUND_REASON_INVALID', field: 'input.reason' });
    expect([...h.payments.refunds.keys()].filter((k) => k.includes('rra-len-nul')), 'nothing refunded at the provider').toEqual([]);
    expect(await rows(payment)).toHaveLength(2);
  });
});
