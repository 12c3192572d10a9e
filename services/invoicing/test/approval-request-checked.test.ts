// An agent's credit note, refund or dispute ACCEPT above the approval limit becomes an approval request
// (four eyes). Before, the request was stored without the checks the operation itself makes: one that
// could never be carried out (a credit note above what is left creditable on the invoice or the line, a
// REFUND note above what is paid, a refund above what is left of the payment or of a payment refunded in
// full, a dispute note the decision refuses) was accepted, waited PENDING as work for the supervisors and
// ended FAILED only when a later note/refund touched its subject or a supervisor approved it. Now asking
// runs the operation's own checks at that moment (same code, same field, as if the agent had done it
// themselves, nothing moved) and stores no request; approval still checks again.
// Also: the CREDIT_NOTE_EXCEEDS_INVOICE close path (a note leaves the invoice too little room for a
// pending request that still fits its line) has its own test here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, NO_DISPUTE_WORKFLOW, SYSTEM } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const ANN = agent('agent-ann');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };

const AR = 'id status decidedBy failureCode failureReason';
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } approvalRequest { ${AR} } } }`;
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } approvalRequest { ${AR} } } }`;
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { ${AR} } creditNote { id } } }`;
const D = 'id status';
const { OPEN, ASSESS } = disputeMutations(D);
const DECIDE = `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { ${D} } approvalRequest { ${AR} } } }`;
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id total { amount } amountCredited { amount } lines { id kind grossAmount { amount } creditedAmount { amount } } creditNotes { total { amount } } } }';
const ADD_DISCOUNT = 'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }';

const { as, refusal, db, outbox } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const note = (invoiceId: string, line: string, amount: string, key: string, kind = 'CREDIT') => ({ i: { invoiceId, kind, reason: 'Network outage goodwill', lines: [{ invoiceLineId: line, amount }], idempotencyKey: key } });
const withKey = (vars: { i: Record<string, unknown> }, key: string) => ({ i: { ...vars.i, idempotencyKey: key } });
const requestsOf = async (subjectId: string) => (await db().execute('select id, status from approval_request where subject_id = ?', [subjectId])) as { id: string; status: string }[];
const createdEvents = async (subjectId: string) => (await outbox('billing.invoicing.approvalrequest.created')).filter((e: any) => e.data.subjectId === subjectId);

/**
 * The agent above the limit is refused at once with `code` on `field`, exactly as an ADMIN doing the
 * same operation (another key) is refused; no request stored for `subjectId`, none announced.
 */
async function refusedAtOnce(query: string, vars: { i: Record<string, unknown> }, subjectId: string, code: string, field: string) {
  const before = (await requestsOf(subjectId)).length;
  const got = await refusal(ANN, query, vars);
  expect(got, 'the agent gets the operation\'s error at once').toMatchObject({ code: 'BAD_USER_INPUT', reason: code, field });
  const own = await refusal(ADMIN, query, vars.i.idempotencyKey ? withKey(vars, `${String(vars.i.idempotencyKey)}-by-admin`) : vars);
  expect(got, 'the same refusal as doing it oneself').toEqual(own);
  expect(await requestsOf(subjectId), 'no approval request stored').toHaveLength(before);
  expect(await createdEvents(subjectId), 'none announced').toHaveLength(before);
}

/** An issued September invoice of its own account (about 35 EUR, its fee line first); `beforeClose` as closedSeptember's. */
async function issued(acc: string, beforeClose?: () => Promise<unknown>) {
  const inv = await closedSeptember(h, acc, `cus_${acc}`, beforeClose);
  expect(inv.state).toBe('SENT');
  return invoice(inv.id);
}

/** An issued invoice of 50% off its fee: the fee line's gross is about twice the invoice's total. */
async function discounted(acc: string) {
  const inv = await issued(acc, () => h.gql(ADD_DISCOUNT, { i: { billingAccountId: acc, code: 'HALF', description: '50% off the plan', percent: '50', target: 'RECURRING', validFrom: '2026-08-01T00:00:00Z' } }));
  const fee = inv.lines.find((l: any) => l.kind === 'RECURRING');
  expect(inv.lines.map((l: any) => l.kind)).toEqual(['RECURRING', 'DISCOUNT']);
  return { inv, fee };
}

describe('asking for a credit note the invoice cannot take', () => {
  it('more than is left creditable on the invoice (a discounted invoice\'s fee line in full): CREDIT_NOTE_EXCEEDS_INVOICE at once, on input.lines', async () => {
    const { inv, fee } = await discounted('acc_arc_inv');
    await refusedAtOnce(ISSUE, note(inv.id, fee.id, fee.grossAmount.amount, 'arc-inv'), inv.id, 'CREDIT_NOTE_EXCEEDS_INVOICE', 'input.lines');
    // What still fits the invoice waits for a supervisor as before.
    expect((await as(ANN, ISSUE, note(inv.id, fee.id, '10.00', 'arc-inv-fits'))).issueCreditNote.approvalRequest.status).toBe('PENDING');
  });

  it('more than is left of the line (credited in part by another note): CREDIT_NOTE_EXCEEDS_LINE at once', async () => {
    const inv = await issued('acc_arc_line');
    const line = inv.lines[0];
    await as(ADMIN, ISSUE, note(inv.id, line.id, (Number(line.grossAmount.amount) - 8).toFixed(2), 'arc-line-admin'));
    await refusedAtOnce(ISSUE, note(inv.id, line.id, '9.00', 'arc-line'), inv.id, 'CREDIT_NOTE_EXCEEDS_LINE', 'input.lines[0].amount');
  });

  it('a REFUND note above what was paid: CREDIT_NOTE_REFUND_EXCEEDS_PAID at once', async () => {
    const inv = await issued('acc_arc_paid');
    await as(ADMIN, PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '6.00', currency: 'EUR' }, idempotencyKey: 'arc-paid-pay' } });
    await refusedAtOnce(ISSUE, note(inv.id, inv.lines[0].id, '8.00', 'arc-paid', 'REFUND'), inv.id, 'CREDIT_NOTE_REFUND_EXCEEDS_PAID', 'input.lines');
  });

  it('without a reason: CREDIT_NOTE_REASON_MISSING at once', async () => {
    const inv = await issued('acc_arc_reason');
    await refusedAtOnce(ISSUE, { i: { ...note(inv.id, inv.lines[0].id, '8.00', 'arc-reason').i, reason: '  ' } }, inv.id, 'CREDIT_NOTE_REASON_MISSING', 'input.reason');
  });
});

describe('asking for a refund the payment cannot take', () => {
  async function paid(acc: string, amount: string) {
    const inv = await issued(acc);
    const pay = (await as(ADMIN, PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: `${acc}-pay` } })).recordPayment.payment.id as string;
    const refund = (amount: string, key: string, currency = 'EUR') => ({ i: { paymentId: pay, amount: { amount, currency }, idempotencyKey: key, reason: 'Customer moved abroad' } });
    return { pay, refund };
  }

  it('more than the payment: REFUND_EXCEEDS_PAYMENT at once, on input.amount.amount', async () => {
    const { pay, refund } = await paid('acc_arc_rf', '20.00');
    await refusedAtOnce(REFUND, refund('25.00', 'arc-rf'), pay, 'REFUND_EXCEEDS_PAYMENT', 'input.amount.amount');
  });

  it('a payment refunded in full already: REFUND_EXCEEDS_PAYMENT at once', async () => {
    const { pay, refund } = await paid('acc_arc_rf_full', '20.00');
    await as(ADMIN, REFUND, refund('20.00', 'arc-rf-full-admin'));
    await refusedAtOnce(REFUND, refund('8.00', 'arc-rf-full'), pay, 'REFUND_EXCEEDS_PAYMENT', 'input.amount.amount');
  });

  it('in another currency than the payment: REFUND_CURRENCY_MISMATCH at once', async () => {
    const { pay, refund } = await paid('acc_arc_rf_cur', '20.00');
    await refusedAtOnce(REFUND, refund('8.00', 'arc-rf-cur', 'USD'), pay, 'REFUND_CURRENCY_MISMATCH', 'input.amount.currency');
  });
});

describe('asking to accept a dispute with what the decision refuses', () => {
  it('a note longer than a decision keeps: DISPUTE_NOTE_TOO_LONG at once, the dispute stays IN_REVIEW', async () => {
    const inv = await issued('acc_arc_dsp');
    const d = (await as(customer('cus_acc_arc_dsp'), OPEN, { i: { invoiceId: inv.id, amount: '8.00', reason: 'Roaming I did not make', idempotencyKey: 'open-arc-dsp' } })).openDispute.dispute;
    expect((await as(SYSTEM, ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute.status).toBe('IN_REVIEW');
    const before = await refusal(ANN, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'x'.repeat(2001) } });
    expect(before).toEqual({ code: 'BAD_USER_INPUT', reason: 'DISPUTE_NOTE_TOO_LONG', field: 'input.note' });
    expect(await requestsOf(d.id)).toEqual([]);
    expect((await as(SUE, 'query($id: ID!) { dispute(id: $id) { status pendingApproval { id } } }', { id: d.id })).dispute).toEqual({ status: 'IN_REVIEW', pendingApproval: null });
  });
});

describe('a pending credit note request the invoice no longer has room for', () => {
  it('fits its line but not what another note left of the invoice: closed FAILED CREDIT_NOTE_EXCEEDS_INVOICE at once, by nobody, said once', async () => {
    const { inv, fee } = await discounted('acc_arc_close');
    const total = Number(inv.total.amount); // about 17.84, the fee line about 35.69
    const req = (await as(ANN, ISSUE, note(inv.id, fee.id, '12.00', 'arc-close'))).issueCreditNote.approvalRequest;
    expect(req.status).toBe('PENDING');
    // An admin credits the fee line so that less than 12.00 of the invoice is left, while the line has plenty.
    const admin = (total - 8).toFixed(2);
    await as(ADMIN, ISSUE, note(inv.id, fee.id, admin, 'arc-close-admin'));
    const after = await invoice(inv.id);
    expect(Number(after.lines[0].grossAmount.amount) - Number(after.lines[0].creditedAmount.amount)).toBeGreaterThan(12);

    const [row] = await db().execute('select status, decided_by, failure_code, failure_reason from approval_request where id = ?', [req.id]);
    expect(row).toMatchObject({ status: 'FAILED', decided_by: null, failure_code: 'CREDIT_NOTE_EXCEEDS_INVOICE' });
    expect(row.failure_reason).toBe(`Only 8.00 of invoice ${inv.id} can still be credited (this request credits 12.00) before this request was approved; nothing moved`);
    const decided = (await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === req.id);
    expect(decided.map((e: any) => e.data)).toEqual([expect.objectContaining({ status: 'FAILED', decidedBy: null, failureCode: 'CREDIT_NOTE_EXCEEDS_INVOICE' })]);
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'FAILED', decidedBy: null, failureCode: 'CREDIT_NOTE_EXCEEDS_INVOICE' }, creditNote: null });
    expect((await invoice(inv.id)).creditNotes.map((c: any) => c.total.amount)).toEqual([String(Number(admin))]);
  });
});
