// Review 12: the hold is the sum of the open disputes. After every operation of a mixed sequence —
// customer disputes (line and invoice), staff disputeInvoice twice, staff credit notes (on the
// dispute's line and on another line), a partial decision, a withdrawal, a credit note racing a
// decision on the same dispute, a refund that reopens a disputed paid invoice, and a regenerated
// draft with a staff hold set twice — every invoice of the accounts (voided drafts included) has
// amount_disputed = the sum of its OPEN/IN_REVIEW disputes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Decimal from 'decimal.js';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, agent, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-r12');

const { OPEN } = disputeMutations('id status amount { amount }');
const { DECIDE } = disputeMutations('id status creditedAmount { amount }');
const { WITHDRAW } = disputeMutations('id status');
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id state } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountDue { amount } lines { id kind grossAmount { amount } creditedAmount { amount } } disputes { id status amount { amount } } } }';

const { as, db } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;

/** Invoices of the accounts whose amount_disputed is not the sum of their open disputes (empty: the invariant holds). */
async function broken(accounts: string[]): Promise<{ id: string; state: string; amountDisputed: string; openSum: string }[]> {
  const found = await db().execute(
    `select i.id, i.state, i.amount_disputed::text as disputed,
            coalesce((select sum(d.amount) from dispute d where d.invoice_id = i.id and d.status in ('OPEN', 'IN_REVIEW')), 0)::text as open_sum
       from invoice i where i.billing_account_id = any(?::text[]) order by i.id`,
    [`{${accounts.join(',')}}`],
  );
  return found.filter((r: any) => Number(r.disputed) !== Number(r.open_sum)).map((r: any) => ({ id: r.id, state: r.state, amountDisputed: r.disputed, openSum: r.open_sum }));
}
async function invariant(step: string, accounts: string[]): Promise<void> {
  expect(await broken(accounts), `after ${step}: amount_disputed = sum of open disputes`).toEqual([]);
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('review 12: amount_disputed = the sum of the open disputes after every operation', () => {
  it('an issued invoice through disputes, staff holds, credit notes, decisions, a race, payment and refund', async () => {
    const acc = 'acc_r12_inv';
    const cus = 'cus_r12_inv';
    const A = [acc];
    await account(h, acc, { customerId: cus });
    await subscribe(h, acc, 'sub_r12_inv', 'postpaid20', '2026-08-01T00:00:00Z');
    await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
      i: { id: 'fee_r12_inv', billingAccountId: acc, code: 'GOODWILL_TEST', description: 'Handset insurance', amount: { amount: '7.50', currency: 'EUR' }, occurredAt: '2026-09-15T10:00:00Z' },
    });
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const inv = await invoice(r.closeBillingPeriod.billingPeriod.invoice.id);
    expect(inv.total.amount).toBe('44.61');
    const fee = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
    const plan = inv.lines.find((l: any) => l.kind !== 'ONE_OFF' && Number(l.grossAmount.amount) > 5);
    await invariant('issue', A);

    const line = (await as(customer(cus), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: '3.00', reason: 'Fee', idempotencyKey: 'r12-line' } })).openDispute.dispute;
    await invariant('a line dispute', A);
    const whole = (await as(customer(cus), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'Roaming', idempotencyKey: 'r12-whole' } })).openDispute.dispute;
    await invariant('an invoice dispute', A);
    await as(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '10.00', reason: 'Staff review' } });
    await invariant('disputeInvoice', A);
    await as(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '6.00', reason: 'Staff review' } });
    await invariant('disputeInvoice again', A);

    // 8.92 - 7.00 = 1.92 left on the fee line: the line dispute is reduced to 1.92.
    await as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Fee reduced', lines: [{ invoiceLineId: fee.id, amount: '7.00' }], idempotencyKey: 'r12-note-fee' } });
    await invariant('a credit note on the dispute\'s line', A);
    await as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Goodwill', lines: [{ invoiceLineId: plan.id, amount: '2.00' }], idempotencyKey: 'r12-note-plan' } });
    await invariant('a credit note on another line', A);

    await as(AGENT, DECIDE, { i: { disputeId: whole.id, decision: 'ACCEPT', amount: '2.00', note: 'Part of the roaming was right' } });
    await invariant('a partial decision', A);
    await as(customer(cus), WITHDRAW, { i: { disputeId: line.id } });
    await invariant('a withdrawal', A);

    // A credit note and a decision on the same dispute at once.
    const race = (await as(customer(cus), OPEN, { i: { invoiceId: inv.id, invoiceLineId: plan.id, amount: '1.00', reason: 'Race', idempotencyKey: 'r12-race' } })).openDispute.dispute;
    const planNow = (await invoice(inv.id)).lines.find((l: any) => l.id === plan.id);
    const room = (Number(planNow.grossAmount.amount) - Number(planNow.creditedAmount.amount)).toFixed(2);
    const outcomes = await Promise.allSettled([
      as(AGENT, DECIDE, { i: { disputeId: race.id, decision: 'ACCEPT', note: 'Upheld' } }),
      as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Whole plan line', lines: [{ invoiceLineId: plan.id, amount: room }], idempotencyKey: 'r12-note-race' } }),
    ]);
    await invariant(`a credit note racing a decision (${outcomes.map((o) => o.status).join(', ')})`, A);
    const after = await invoice(inv.id);
    const raced = after.lines.find((l: any) => l.id === plan.id);
    expect(Number(raced.creditedAmount.amount)).toBeLessThanOrEqual(Number(raced.grossAmount.amount));
    expect(after.disputes.find((d: any) => d.id === race.id).status).toBe('ACCEPTED');

    // The staff hold decided, the invoice paid in full, disputed while paid, then a refund reopens it.
    const staff = after.disputes.find((d: any) => d.status === 'OPEN' || d.status === 'IN_REVIEW');
    await as(AGENT, DECIDE, { i: { disputeId: staff.id, decision: 'REJECT', note: 'Reviewed' } });
    await invariant('the staff hold rejected', A);
    const due = (await invoice(inv.id)).amountDue.amount;
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: due, currency: 'EUR' }, idempotencyKey: 'r12-pay' } })).recordPayment;
    expect(pay.invoice.state).toBe('SETTLED');
    await as(customer(cus), OPEN, { i: { invoiceId: inv.id, amount: '1.50', reason: 'After paying', idempotencyKey: 'r12-paid' } });
    await invariant('a dispute of the paid invoice', A);
    // What was paid depends on which side of the race above went first (decision first: the note is
    // refused, 32.61 paid; note first: it leaves the dispute its 1.00, 1.92 paid): refund at most that.
    const refund = Decimal.min(due, '5.00').toFixed(2);
    await h.gql(REFUND, { i: { paymentId: pay.payment.id, amount: { amount: refund, currency: 'EUR' }, idempotencyKey: 'r12-refund' } });
    expect((await invoice(inv.id)).state, 'the refund reopened the disputed invoice: held').toBe('ON_HOLD');
    await invariant('a refund reopening it', A);
  });

  it('a draft held by staff twice, then regenerated (the voided draft too)', async () => {
    const acc = 'acc_r12_draft';
    const A = [acc];
    await account(h, acc, { customerId: 'cus_r12_draft' });
    await subscribe(h, acc, 'sub_r12_draft', 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [{ chargeId: 'chg_r12_draft', billingAccountId: acc, lineId: 'lin_sub_r12_draft', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '100', unit: 'MB', amount: '5.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    await runBillRun(h, '2026-10-01', { autoIssue: false });
    const [draft] = (await invoicesOf(h, acc)).filter((i: any) => i.state !== 'VOIDED');
    expect(draft.state).toBe('NEW');
    await as(AGENT, HOLD, { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming check' } });
    await invariant('disputeInvoice on a draft', A);
    await as(AGENT, HOLD, { i: { invoiceId: draft.id, amount: '3.00', reason: 'Roaming check' } });
    await invariant('disputeInvoice on a draft again', A);
    const regen = (await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }', { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    expect(regen.state).toBe('ON_HOLD');
    await invariant('regenerating the held draft', A);
    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: regen.id } });
    await invariant('resolving the new draft', A);
  });
});
