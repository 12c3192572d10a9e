// Review 17: a REFUND credit note sent no money. issueCreditNote(kind REFUND) marked the invoice's
// payments refunded (refunded_amount up, amount_paid down) but made no `refund` row and asked the card
// provider for nothing: the books said the money went back while nothing sent it.
// Correct: a REFUND note refunds each payment it takes money back from as refundPayment does — a
// `refund` row (credit_note_id = the note) and, for a CARD payment, the provider's refund keyed by the
// note's key and the payment; a replay refunds nothing twice; a refused provider refund changes nothing;
// an approved request's note refunds too.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainError, type Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const ANN = agent('agent-ann-r17');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue-r17', scopes: ['billing:approve'] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } approvalRequest { id status } } }';
const APPROVE = 'mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { id status resultId } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountPaid { amount } amountCredited { amount } lines { id } } }';
const { as, refusal, db } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const refunds = async (paymentIds: string[]) =>
  (await db().execute(`select payment_id, amount::text as amount, provider_ref, credit_note_id, idempotency_key, moved_alone_by from refund where payment_id in (?) order by payment_id`, [paymentIds])) as any[];
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await h.gql<any>(PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const providerRefundsOf = (providerRef: string) => [...h.payments.refunds.values()].filter((r) => r.req.providerRef === providerRef);
const refundNote = (inv: any, amount: string, key: string) => ({ i: { invoiceId: inv.id, kind: 'REFUND', reason: 'Service never worked', lines: [{ invoiceLineId: inv.lines[0].id, amount }], idempotencyKey: key } });

describe('review17: a REFUND credit note pays the money back', () => {
  it('refunds a card payment at the provider and records the refund; a replay refunds nothing twice', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_r17_card', 'cus_r17_card')).id);
    const card = await pay(inv.id, 'CARD', inv.total.amount, 'r17-card-pay');
    const [{ provider_ref: charged }] = (await db().execute('select provider_ref from payment where id = ?', [card])) as any[];
    const first = (await h.gql<any>(ISSUE, refundNote(inv, inv.total.amount, 'r17-card-cn'))).issueCreditNote.creditNote.id;
    const again = (await h.gql<any>(ISSUE, refundNote(inv, inv.total.amount, 'r17-card-cn'))).issueCreditNote.creditNote.id;
    expect(again).toBe(first);

    const sent = providerRefundsOf(charged);
    expect(sent.map((s) => ({ amount: s.req.amount, currency: s.req.currency })), 'one refund at the provider, of the whole payment').toEqual([{ amount: inv.total.amount, currency: 'EUR' }]);
    expect(sent[0]!.req.idempotencyKey).toContain('r17-card-cn');
    expect(sent[0]!.req.idempotencyKey).toContain(card);
    const rows = await refunds([card]);
    expect(rows, 'one refund row, linked to the note').toMatchObject([{ payment_id: card, credit_note_id: first, provider_ref: sent[0]!.providerRef, idempotency_key: sent[0]!.req.idempotencyKey }]);
    expect(Number(rows[0].amount)).toBe(Number(inv.total.amount));
    expect(await invoice(inv.id)).toMatchObject({ state: 'SETTLED', amountPaid: { amount: '0' } });
  });

  it('a bank transfer gets a refund row without a provider ref, a card payment its provider refund, each for its part', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_r17_mixed', 'cus_r17_mixed')).id);
    const bank = await pay(inv.id, 'BANK_TRANSFER', '10.00', 'r17-mixed-bank');
    const card = await pay(inv.id, 'CARD', '20.00', 'r17-mixed-card');
    const [{ provider_ref: charged }] = (await db().execute('select provider_ref from payment where id = ?', [card])) as any[];
    // Both were paid at the test clock's instant: the card a second later, so the order the note takes
    // them in (oldest first, then by id) does not depend on the random ids.
    await db().execute(`update payment set created_at = created_at + interval '1 second' where id = ?`, [card]);
    const cn = (await h.gql<any>(ISSUE, refundNote(inv, '25.00', 'r17-mixed-cn'))).issueCreditNote.creditNote.id;
    const byPayment = Object.fromEntries((await refunds([bank, card])).map((r) => [r.payment_id, { amount: Number(r.amount), provider: r.provider_ref != null, note: r.credit_note_id }]));
    expect(byPayment, 'oldest payment first: the whole transfer, then 15.00 of the card').toEqual({ [bank]: { amount: 10, provider: false, note: cn }, [card]: { amount: 15, provider: true, note: cn } });
    expect(providerRefundsOf(charged).map((s) => s.req.amount)).toEqual(['15.00']);
  });

  it('a refused provider refund fails the whole note with its coded error and changes nothing', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_r17_declined', 'cus_r17_declined')).id);
    const card = await pay(inv.id, 'CARD', inv.total.amount, 'r17-declined-pay');
    const spy = vi.spyOn(h.payments, 'refund').mockRejectedValueOnce(new DomainError('PAYMENT_DECLINED', 'The refund was declined', { field: 'input.lines' }));
    try {
      const err = await h.gqlError(ISSUE, refundNote(inv, inv.total.amount, 'r17-declined-cn'));
      expect(err.reason).toBe('PAYMENT_DECLINED');
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    expect(await refunds([card])).toEqual([]);
    expect(Number((await db().execute('select count(*) as n from credit_note where invoice_id = ?', [inv.id]))[0].n)).toBe(0);
    const [p] = (await db().execute('select refunded_amount::text as r from payment where id = ?', [card])) as any[];
    expect(Number(p.r)).toBe(0);
    expect(await invoice(inv.id)).toMatchObject({ state: 'SETTLED', amountPaid: { amount: inv.total.amount }, amountCredited: { amount: '0' } });
  });

  it("an approved agent's REFUND note refunds at the provider, and counts once against the daily limit", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_r17_approved', 'cus_r17_approved')).id);
    const card = await pay(inv.id, 'CARD', inv.total.amount, 'r17-approved-pay');
    const [{ provider_ref: charged }] = (await db().execute('select provider_ref from payment where id = ?', [card])) as any[];
    const pending = (await as(ANN, ISSUE, refundNote(inv, '20.00', 'r17-approved-cn'))).issueCreditNote;
    expect(pending.approvalRequest.status).toBe('PENDING');
    expect(providerRefundsOf(charged)).toEqual([]);
    const done = (await as(SUE, APPROVE, { i: { id: pending.approvalRequest.id } })).approveRequest.approvalRequest;
    expect(done.status).toBe('APPROVED');
    expect(providerRefundsOf(charged).map((s) => s.req.amount)).toEqual(['20.00']);
    expect(await refunds([card])).toMatchObject([{ credit_note_id: done.resultId, moved_alone_by: null }]);

    // An agent's small REFUND note alone: counted as the note, not again as its refund row.
    await as(ANN, ISSUE, refundNote(inv, '3.00', 'r17-alone-cn'));
    const alone = (await refunds([card])).find((r) => Number(r.amount) === 3);
    expect(alone).toMatchObject({ moved_alone_by: null });
  });

  it('a refund key of a REFUND note is not for callers of refundPayment', async () => {
    const err = await refusal(SUE, 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }', { i: { paymentId: 'pay_none', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'credit-note:x:pay_none' } });
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_RESERVED', field: 'input.idempotencyKey' });
  });
});
