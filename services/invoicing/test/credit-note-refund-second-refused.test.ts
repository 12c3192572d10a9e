// A REFUND credit note over two CARD payments whose second refund the provider refuses: the first
// payment was already refunded at the provider, and the whole note rolled back (the coded error went to
// the caller). The money had left (the card refunded) while the ledger said nothing: the payment
// unrefunded, the invoice paid, no refund row, no event, no note. Staff retrying with another key (or
// refunding the payment by hand, refundPayment) sent the first payment's money back a second time.
// Now, once a refund has gone out at the provider for the note, a later payment's refused refund does not
// undo the note: the note is issued, the refunds that went out are recorded with it (refund rows and
// events, as any note's), and the refused part is kept as the customer's account credit (the money is
// the customer's and stays on the record; it pays their open and next bills), announced on the note's
// event (creditAmount) and logged for staff. A retry of the same request answers that note and refunds
// nothing again; no other request can give the first payment's money back again.
// A refusal before any refund went out at the provider still changes nothing (review17 test).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainError, dec } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';
import type { RefundCardRequest } from '../src/adapters/payment-provider';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id number total { amount } refundsRefused { paymentId amount { amount currency } code } } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountPaid { amount } amountCredited { amount } amountDue { amount } lines { id } } }';
const { db, outbox, credit } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await h.gql<any>(PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const providerRefOf = async (paymentId: string) => ((await db().execute('select provider_ref from payment where id = ?', [paymentId])) as any[])[0].provider_ref as string;
const providerRefundsOf = (providerRef: string) => [...h.payments.refunds.values()].filter((r) => r.req.providerRef === providerRef);
const refundRows = async (paymentIds: string[]) =>
  (await db().execute(`select payment_id, amount::text as amount, provider_ref, credit_note_id from refund where payment_id in (?) order by payment_id`, [paymentIds])) as any[];
const paymentRow = async (id: string) => ((await db().execute('select refunded_amount::text as refunded, moved_to_credit::text as moved from payment where id = ?', [id])) as any[])[0];
const refundNote = (inv: any, amount: string, key: string) => ({ i: { invoiceId: inv.id, kind: 'REFUND', reason: 'Service never worked', lines: [{ invoiceLineId: inv.lines[0].id, amount }], idempotencyKey: key } });
const same = (a: unknown, b: string) => dec(String(a)).eq(b);

/** The sandbox provider, refusing every refund of the charge `refused` (the others go through as they do). */
function refusingRefundsOf(refused: string) {
  const real = h.payments.refund.bind(h.payments);
  return vi.spyOn(h.payments, 'refund').mockImplementation(async (req: RefundCardRequest) => {
    if (req.providerRef === refused) throw new DomainError('PAYMENT_DECLINED', 'The refund was declined', { field: 'input.lines' });
    return real(req);
  });
}

/** An invoice paid by two card payments, the first of 10.00 (a second earlier, so the note takes it first), the second the rest. */
async function paidByTwoCards(acc: string) {
  const inv = await invoice((await closedSeptember(h, acc, `cus_${acc}`)).id);
  const rest = dec(inv.total.amount).minus('10.00').toFixed(2);
  const first = await pay(inv.id, 'CARD', '10.00', `${acc}-pay-1`);
  const second = await pay(inv.id, 'CARD', rest, `${acc}-pay-2`);
  await db().execute(`update payment set created_at = created_at + interval '1 second' where id = ?`, [second]);
  return { inv, rest, first, second, firstRef: await providerRefOf(first), secondRef: await providerRefOf(second) };
}

describe('a REFUND credit note whose second card refund the provider refuses', () => {
  it('records the refund that went out with the note, keeps the refused rest as account credit, tells it; a retry refunds nothing again', async () => {
    const { inv, rest, first, second, firstRef, secondRef } = await paidByTwoCards('acc_cnr2_a');
    const spy = refusingRefundsOf(secondRef);
    let note: any;
    try {
      note = (await h.gql<any>(ISSUE, refundNote(inv, inv.total.amount, 'cnr2-a-note'))).issueCreditNote.creditNote;
      expect(spy, 'both refunds asked for').toHaveBeenCalledTimes(2);

      // The first payment's money went back at the provider once, and the ledger says so.
      expect(providerRefundsOf(firstRef).map((r) => r.req.amount)).toEqual(['10.00']);
      expect(providerRefundsOf(secondRef)).toEqual([]);
      const rows = await refundRows([first, second]);
      expect(rows.map((r) => ({ payment: r.payment_id, note: r.credit_note_id, sent: r.provider_ref === providerRefundsOf(firstRef)[0]!.providerRef })), 'one refund row, the first payment, with the note').toEqual([{ payment: first, note: note.id, sent: true }]);
      expect(same(rows[0].amount, '10.00')).toBe(true);
      expect(same((await paymentRow(first)).refunded, '10.00')).toBe(true);
      // The refused part: not refunded, kept as the customer's account credit.
      const p2 = await paymentRow(second);
      expect(same(p2.refunded, '0')).toBe(true);
      expect(same(p2.moved, rest), `moved_to_credit ${p2.moved}`).toBe(true);
      expect(same(await credit('acc_cnr2_a'), rest)).toBe(true);
      const entries = (await db().execute(`select amount::text as amount, source, source_id from account_credit_entry where billing_account_id = 'acc_cnr2_a'`)) as any[];
      expect(entries.map((e) => ({ source: e.source, id: e.source_id, amount: same(e.amount, rest) }))).toEqual([{ source: 'CREDIT_NOTE', id: note.id, amount: true }]);
      // Staff see it on the note.
      expect(note.refundsRefused.map((r: any) => ({ ...r, amount: same(r.amount.amount, rest) }))).toEqual([{ paymentId: second, amount: true, code: 'PAYMENT_DECLINED' }]);
      // The note credits the whole amount; the invoice owes nothing.
      expect(same(note.total.amount, inv.total.amount)).toBe(true);
      const after = await invoice(inv.id);
      expect(after.state).toBe('SETTLED');
      expect(same(after.amountPaid.amount, '0') && same(after.amountCredited.amount, inv.total.amount) && same(after.amountDue.amount, '0'), JSON.stringify(after)).toBe(true);

      // The customer is told: the note, what became credit, the one refund that was sent.
      const noteEvents = (await outbox('billing.invoicing.creditnote.created')).filter((e: any) => e.data.creditNoteId === note.id);
      expect(noteEvents.map((e: any) => ({ kind: e.data.kind, credit: same(e.data.creditAmount, rest) }))).toEqual([{ kind: 'REFUND', credit: true }]);
      const refundEvents = (await outbox('billing.invoicing.refund.created')).filter((e: any) => [first, second].includes(e.data.paymentId));
      expect(refundEvents.map((e: any) => e.data.paymentId)).toEqual([first]);

      // The same request again: the same note, no refund asked for again.
      const again = (await h.gql<any>(ISSUE, refundNote(inv, inv.total.amount, 'cnr2-a-note'))).issueCreditNote.creditNote;
      expect(again.id).toBe(note.id);
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    // Nothing else gives the first payment's money back again: another note, a refund by hand.
    const other = await h.svc.request(ISSUE, refundNote(inv, '1.00', 'cnr2-a-other'));
    expect(other.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const byHand = await h.svc.request(REFUND, { i: { paymentId: first, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'cnr2-a-hand' } });
    expect(byHand.errors?.[0]?.extensions?.reason).toBe('REFUND_EXCEEDS_PAYMENT');
    expect(providerRefundsOf(firstRef)).toHaveLength(1);
    expect(await refundRows([first, second])).toHaveLength(1);
  });

  it('a refusal before any refund went out at the provider (a bank transfer first) still changes nothing', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnr2_b', 'cus_cnr2_b')).id);
    const bank = await pay(inv.id, 'BANK_TRANSFER', '10.00', 'cnr2-b-bank');
    const card = await pay(inv.id, 'CARD', dec(inv.total.amount).minus('10.00').toFixed(2), 'cnr2-b-card');
    await db().execute(`update payment set created_at = created_at + interval '1 second' where id = ?`, [card]);
    const spy = refusingRefundsOf(await providerRefOf(card));
    try {
      const r = await h.svc.request(ISSUE, refundNote(inv, inv.total.amount, 'cnr2-b-note'));
      expect(r.errors?.[0]?.extensions?.reason).toBe('PAYMENT_DECLINED');
    } finally {
      spy.mockRestore();
    }
    expect(await refundRows([bank, card])).toEqual([]);
    expect(Number((await db().execute('select count(*) as n from credit_note where invoice_id = ?', [inv.id]))[0].n)).toBe(0);
    expect(same(await credit('acc_cnr2_b'), '0')).toBe(true);
    expect(same((await invoice(inv.id)).amountPaid.amount, inv.total.amount)).toBe(true);
  });
});
