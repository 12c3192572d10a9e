// dispute.resolved carries `invoiceState` (the invoice's state before the closing credit) on every
// path that closes a dispute, not only decideDispute / withdrawDispute (dispute-event-notification-fields.test.ts):
// - a credit note issued apart from the dispute that covers it (takeDisputesCoveredByCreditNote):
//   the state before that note (SETTLED: the customer had paid, the credit is account credit);
// - resolveDispute (the invoice's hold ended as a whole): the state the invoice is released to
//   (SETTLED: paid during the hold, nothing is due again).
// Without it subscribers told a customer who had paid that "the amount is due again".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, lateFee } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-ines');
const { OPEN } = disputeMutations('id status');
const { as, outbox } = disputeCalls(() => h);
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount currency } amountDue { amount } lines { id description grossAmount { amount } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }';
const CREDIT = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } invoice { state } } }';

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

const resolvedOf = async (disputeId: string) => (await outbox('billing.invoicing.dispute.resolved')).find((e: any) => e.data.disputeId === disputeId)?.data;

describe('dispute.resolved says whether the invoice had been paid, on every closing path', () => {
  it('a credit note that covers a dispute of a paid invoice: invoiceState SETTLED (the state before the note)', async () => {
    const inv = await closedSeptember(h, 'acc_ist_note', 'cus_ist_note', () => lateFee(h, 'acc_ist_note'));
    const invoice = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
    const fee = invoice.lines.find((l: any) => l.description.startsWith('Late payment fee'));
    expect(fee).toBeTruthy();
    const paid = await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: invoice.total, idempotencyKey: 'ist-note-paid' } });
    expect(paid.recordPayment.invoice.state).toBe('SETTLED');
    const c = customer('cus_ist_note');
    const d = (await as(c, OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: fee.grossAmount.amount, reason: 'The fee was waived on the phone', idempotencyKey: 'ist-note-d' } })).openDispute.dispute;
    // Staff credit the line apart from the dispute: the note takes all of its room, so it closes it.
    await as(AGENT, CREDIT, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Late fee waived', lines: [{ invoiceLineId: fee.id, amount: fee.grossAmount.amount }], idempotencyKey: 'ist-note-cn' } });
    const resolved = await resolvedOf(d.id);
    expect(resolved).toMatchObject({ status: 'ACCEPTED', creditedAmount: fee.grossAmount.amount, invoiceState: 'SETTLED' });
    expect(resolved.creditNoteId).toBeTruthy();
  });

  it('a credit note that covers a dispute of an unpaid invoice: invoiceState is the state it is released to, SENT (the amount is due again wording stays right)', async () => {
    const inv = await closedSeptember(h, 'acc_ist_open', 'cus_ist_open', () => lateFee(h, 'acc_ist_open'));
    const invoice = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
    const fee = invoice.lines.find((l: any) => l.description.startsWith('Late payment fee'));
    const d = (await as(customer('cus_ist_open'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: fee.grossAmount.amount, reason: 'Not late', idempotencyKey: 'ist-open-d' } })).openDispute.dispute;
    await as(AGENT, CREDIT, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Late fee waived', lines: [{ invoiceLineId: fee.id, amount: fee.grossAmount.amount }], idempotencyKey: 'ist-open-cn' } });
    expect(await resolvedOf(d.id)).toMatchObject({ status: 'ACCEPTED', invoiceState: 'SENT' });
  });

  it('resolveDispute on an invoice paid during the hold: invoiceState SETTLED', async () => {
    const inv = await closedSeptember(h, 'acc_ist_resolve', 'cus_ist_resolve');
    const invoice = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
    const d = (await as(customer('cus_ist_resolve'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'A call I did not make', idempotencyKey: 'ist-resolve-d' } })).openDispute.dispute;
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.state).toBe('ON_HOLD');
    // The customer pays it all while it is held (it stays ON_HOLD until the dispute ends).
    const paid = await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: invoice.total, idempotencyKey: 'ist-resolve-paid' } });
    expect(paid.recordPayment.invoice.state).toBe('ON_HOLD');
    const r = await h.gql<any>('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id } });
    expect(r.resolveDispute.invoice.state).toBe('SETTLED');
    expect(await resolvedOf(d.id)).toMatchObject({ status: 'REJECTED', invoiceState: 'SETTLED' });
  });

  it('resolveDispute on an invoice still unpaid: invoiceState is the state it is released to (SENT)', async () => {
    const inv = await closedSeptember(h, 'acc_ist_unpaid', 'cus_ist_unpaid');
    const d = (await as(customer('cus_ist_unpaid'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'A call I did not make', idempotencyKey: 'ist-unpaid-d' } })).openDispute.dispute;
    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id } });
    expect(await resolvedOf(d.id)).toMatchObject({ status: 'REJECTED', invoiceState: 'SENT' });
  });
});
