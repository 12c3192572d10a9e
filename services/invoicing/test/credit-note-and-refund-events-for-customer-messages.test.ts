// What subscribers needs to tell a customer about a credit note on their invoice (CREDIT_NOTE_ISSUED) and
// about a refund that makes a paid invoice owe again (REFUND_SENT), carried by invoicing's events (added
// 2027-01-30, optional for old events):
// - creditnote.created: the invoice's number, what the note did (kind; `creditAmount`: what of it became
//   account credit), what the invoice still owes afterwards (`amountDue`, once the credit paid what it could)
//   and its `dueDate`; never the staff's reason. Before, it carried only the note's lines and total.
// - refund.created: whether the refund reopened its invoice (`reopened`), what the invoice then owes and by
//   when. Before, the event was written before the invoice was reopened and said nothing of it.
// Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const { as, db, outbox } = disputeCalls(() => h);
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-cnm', scopes: [] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id number total { amount } lines { id } } }';

const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const dueDateOf = async (id: string) => new Date(((await db().execute('select due_date from invoice where id = ?', [id])) as any[])[0].due_date).toISOString();
const pay = async (invoiceId: string, channel: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel, amount: { amount, currency: 'EUR' }, idempotencyKey: key, allowOverpayment: true, ...(channel === 'CARD' ? { paymentMethodToken: 'tok_visa' } : {}) } })).recordPayment.payment.id as string;
const note = async (inv: any, kind: string, amount: string, key: string) =>
  (await as(ADMIN, ISSUE, { i: { invoiceId: inv.id, kind, reason: 'Agent note: customer was rude, goodwill anyway', lines: [{ invoiceLineId: inv.lines[0].id, amount }], idempotencyKey: key } })).issueCreditNote.creditNote.id as string;
const noteEvent = async (id: string) => (await outbox('billing.invoicing.creditnote.created')).filter((e: any) => e.data.creditNoteId === id);
const refundEvents = async (paymentId: string) => (await outbox('billing.invoicing.refund.created')).filter((e: any) => e.data.paymentId === paymentId);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('credit note events for customer messages', () => {
  it('a CREDIT note on an unpaid invoice: the invoice number, what is still due and by when; no staff reason', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_open', 'cus_cnm_open')).id);
    expect(inv.total.amount).toBe('35.69');
    const id = await note(inv, 'CREDIT', '5.00', 'cnm-open');
    const events = await noteEvent(id);
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ kind: 'CREDIT', total: '5.00', currency: 'EUR', invoiceNumber: inv.number, amountDue: '30.69', creditAmount: '0.00', dueDate: await dueDateOf(inv.id) });
    expect(JSON.stringify(events[0].data)).not.toContain('rude');
  });

  it('a CREDIT note on a paid invoice: what was paid becomes account credit, nothing is due', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_paid', 'cus_cnm_paid')).id);
    await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'cnm-paid-pay');
    const id = await note(inv, 'CREDIT', '5.00', 'cnm-paid');
    expect((await noteEvent(id))[0].data).toMatchObject({ kind: 'CREDIT', invoiceNumber: inv.number, amountDue: '0.00', creditAmount: '5.00' });
  });

  it('an OFFSET note on an unpaid invoice: account credit, which pays the invoice at once (what is due says so)', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_offset', 'cus_cnm_offset')).id);
    const id = await note(inv, 'OFFSET', '5.00', 'cnm-offset');
    expect((await noteEvent(id))[0].data).toMatchObject({ kind: 'OFFSET', invoiceNumber: inv.number, creditAmount: '5.00', amountDue: '30.69' });
  });

  it('a REFUND note: paid back; its refunds do not reopen the invoice', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_refund', 'cus_cnm_refund')).id);
    const p = await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'cnm-refund-pay');
    const id = await note(inv, 'REFUND', '5.00', 'cnm-refund');
    expect((await noteEvent(id))[0].data).toMatchObject({ kind: 'REFUND', invoiceNumber: inv.number, creditAmount: '0.00', amountDue: '0.00' });
    expect((await refundEvents(p)).map((e: any) => e.data)).toEqual([expect.objectContaining({ creditNoteId: id, amount: '5.00', reopened: false, amountDue: '0.00' })]);
  });
});

describe('refund events for customer messages', () => {
  it('a refund of money paid on a settled invoice reopens it: the event says what is due again and by when', async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_reopen', 'cus_cnm_reopen')).id);
    const p = await pay(inv.id, 'BANK_TRANSFER', inv.total.amount, 'cnm-reopen-pay');
    await as(ADMIN, REFUND, { i: { paymentId: p, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'cnm-reopen-refund' } });
    const events = await refundEvents(p);
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ invoiceNumber: inv.number, amount: '10.00', reopened: true, amountDue: '10.00', dueDate: await dueDateOf(inv.id) });
  });

  it("a refund out of the payment's kept credit leaves the invoice paid", async () => {
    const inv = await invoice((await closedSeptember(h, 'acc_cnm_kept', 'cus_cnm_kept')).id);
    const p = await pay(inv.id, 'BANK_TRANSFER', '50.00', 'cnm-kept-pay');
    await as(ADMIN, REFUND, { i: { paymentId: p, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: 'cnm-kept-refund' } });
    expect((await refundEvents(p))[0].data).toMatchObject({ reopened: false, amountDue: '0.00' });
  });
});
