// An agent's credit note or refund above the approval limit waits for a supervisor (maker-checker)
// while its subject is used up otherwise: the invoice line credited by another note, the draft
// voided, the payment refunded by another refund or a REFUND credit note. What is credited or
// refunded only grows, so such a request can never run any more: it is closed at once, in the
// transaction that used its room up, FAILED with the code approving it would end with, by nobody,
// `approvalrequest.decided` once (before, it stayed PENDING as stale work for the supervisors until
// approved — then FAILED —, rejected or expired). A request that still fits stays PENDING.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { account, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const drafts = new Map<string, { id: string; line: string }>();
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
  // Two drafts (not issued) first, before the other accounts exist: the bill run bills only these.
  for (const acc of ['acc_asu_void', 'acc_asu_regen']) {
    await account(h, acc, { customerId: `cus_${acc}` });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
  await runBillRun(h, '2026-10-01', { autoIssue: false });
  for (const acc of ['acc_asu_void', 'acc_asu_regen']) {
    const [inv] = await invoicesOf(h, acc);
    expect(inv.state).toBe('NEW');
    drafts.set(acc, { id: inv.id, line: inv.lines[0].id });
  }
});
afterAll(async () => h?.svc.close());

const ANN = agent('agent-ann');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };

const AR = 'id status decidedBy decidedAt resultId failureCode failureReason';
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } approvalRequest { ${AR} } } }`;
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } approvalRequest { ${AR} } } }`;
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const DECIDED = `{ approvalRequest { ${AR} } creditNote { id total { amount } } payment { id refundedAmount { amount } } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) ${DECIDED} }`;
const REJECT = `mutation($i: RejectRequestInput!) { rejectRequest(input: $i) ${DECIDED} }`;
const LIST = 'query($s: ApprovalRequestStatus) { approvalRequests(status: $s, first: 100) { edges { node { id } } } }';
const VOID = 'mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { state } } }';
const REGENERATE = 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id total { amount } lines { id grossAmount { amount } creditedAmount { amount } } creditNotes { total { amount } } } }';

const { as, refusal, db, outbox } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const pendingIds = async () => (await as(SUE, LIST, { s: 'PENDING' })).approvalRequests.edges.map((e: any) => e.node.id);
const decidedEvents = async (id: string) => (await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === id).map((e: any) => e.data);
const note = (inv: { id: string; line: string }, amount: string, key: string, kind = 'CREDIT') => ({ i: { invoiceId: inv.id, kind, reason: 'Network outage goodwill', lines: [{ invoiceLineId: inv.line, amount }], idempotencyKey: key } });

/** An issued September invoice of its own account: id, its first line and that line's gross. */
async function issued(acc: string): Promise<{ id: string; line: string; gross: string }> {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  expect(inv.state).toBe('SENT');
  const line = (await invoice(inv.id)).lines[0];
  return { id: inv.id, line: line.id, gross: line.grossAmount.amount };
}

async function pending(caller: Caller, query: string, vars: Record<string, unknown>): Promise<{ id: string }> {
  const r = Object.values(await as(caller, query, vars))[0] as any;
  expect(r.approvalRequest).toMatchObject({ status: 'PENDING' });
  return r.approvalRequest;
}

/** Closed at once: FAILED with `code` by nobody, out of the pending list, said once; approving answers that, rejecting is APPROVAL_REQUEST_DECIDED. */
async function expectClosed(reqId: string, code: string) {
  expect(await pendingIds(), 'no stale work in the supervisors\' list').not.toContain(reqId);
  const [row] = await db().execute('select status, decided_by, decided_at, failure_code, failure_reason, result_id from approval_request where id = ?', [reqId]);
  expect(row).toMatchObject({ status: 'FAILED', decided_by: null, failure_code: code, result_id: null, decided_at: expect.anything() });
  expect(row.failure_reason).toMatch(/nothing moved/);
  expect(await decidedEvents(reqId)).toEqual([expect.objectContaining({ status: 'FAILED', decidedBy: null, failureCode: code })]);
  expect((await as(SUE, APPROVE, { i: { id: reqId } })).approveRequest.approvalRequest).toMatchObject({ status: 'FAILED', decidedBy: null, failureCode: code, resultId: null });
  expect(await refusal(SUE, REJECT, { i: { id: reqId, reason: 'Stale' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
  expect(await decidedEvents(reqId), 'approving a closed request says nothing again').toHaveLength(1);
}

async function expectPending(reqId: string) {
  expect(await pendingIds()).toContain(reqId);
  expect(await decidedEvents(reqId)).toEqual([]);
}

describe('a pending credit note request when its invoice can no longer take it', () => {
  it('another note credits the line in full: every request on it is closed FAILED CREDIT_NOTE_EXCEEDS_LINE at once, nothing more is credited', async () => {
    const inv = await issued('acc_asu_full');
    const a = await pending(ANN, ISSUE, note(inv, '12.00', 'asu-full-a'));
    const b = await pending(ANN, ISSUE, note(inv, '6.00', 'asu-full-b'));
    await as(ADMIN, ISSUE, note(inv, inv.gross, 'asu-full-admin'));
    await expectClosed(a.id, 'CREDIT_NOTE_EXCEEDS_LINE');
    await expectClosed(b.id, 'CREDIT_NOTE_EXCEEDS_LINE');
    expect((await invoice(inv.id)).creditNotes.map((c: any) => c.total.amount)).toEqual([String(Number(inv.gross))]);
  });

  it('a partial credit that leaves room keeps a request that still fits PENDING and closes one that no longer does; an approved note closes those it leaves no room for, not itself', async () => {
    const inv = await issued('acc_asu_part');
    const big = await pending(ANN, ISSUE, note(inv, '12.00', 'asu-part-big'));
    const fits = await pending(ANN, ISSUE, note(inv, '6.00', 'asu-part-fits'));
    const last = await pending(ANN, ISSUE, note(inv, '5.50', 'asu-part-last'));
    // 10.00 of the line left: 12.00 can never be credited any more, 6.00 and 5.50 still can.
    await as(ADMIN, ISSUE, note(inv, (Number(inv.gross) - 10).toFixed(2), 'asu-part-admin'));
    await expectClosed(big.id, 'CREDIT_NOTE_EXCEEDS_LINE');
    await expectPending(fits.id);
    await expectPending(last.id);

    const approved = (await as(SUE, APPROVE, { i: { id: fits.id } })).approveRequest;
    expect(approved).toMatchObject({ approvalRequest: { status: 'APPROVED', decidedBy: 'super-sue', failureCode: null }, creditNote: { total: { amount: '6' } } });
    expect(await decidedEvents(fits.id)).toEqual([expect.objectContaining({ status: 'APPROVED', decidedBy: 'super-sue' })]);
    // 4.00 left: 5.50 no longer fits.
    await expectClosed(last.id, 'CREDIT_NOTE_EXCEEDS_LINE');
  });

  it('asked on a draft: refused at once (INVOICE_NOT_ISSUED), nothing stored; one stored before requests were checked is closed FAILED INVOICE_VOIDED when the draft is voided, or regenerated', async () => {
    // Asking runs the note's own checks (test/approval-request-checked.test.ts): a draft is not credited.
    const v = drafts.get('acc_asu_void')!;
    expect(await refusal(ANN, ISSUE, note(v, '6.00', 'asu-void'))).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_NOT_ISSUED', field: 'input.invoiceId' });
    expect(await db().execute('select id from approval_request where subject_id = ?', [v.id])).toEqual([]);
    // Requests stored before that check (running data, as the gate stored them) are still closed.
    const req = await storedBeforeChecks(v, '6.00', 'asu-void');
    expect((await h.gql<any>(VOID, { i: { invoiceId: v.id } })).voidInvoice.invoice.state).toBe('VOIDED');
    await expectClosed(req.id, 'INVOICE_VOIDED');
    expect(await refusal(ANN, ISSUE, note(v, '6.00', 'asu-void-again'))).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_VOIDED', field: 'input.invoiceId' });

    const r = drafts.get('acc_asu_regen')!;
    const reqR = await storedBeforeChecks(r, '6.00', 'asu-regen');
    await h.gql<any>(REGENERATE, { i: { invoiceId: r.id } });
    await expectClosed(reqR.id, 'INVOICE_VOIDED');
  });
});

/** A PENDING credit note request of agent Ann as the gate stored it before it ran the note's checks (no created event). */
async function storedBeforeChecks(inv: { id: string; line: string }, amount: string, key: string): Promise<{ id: string }> {
  const id = `apr_${key.replace(/\W/g, '_')}`;
  const [acc] = await db().execute('select billing_account_id from invoice where id = ?', [inv.id]);
  const input = { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage goodwill', lines: [{ invoiceLineId: inv.line, amount }], idempotencyKey: key };
  await db().execute(
    `insert into approval_request (id, kind, subject_id, billing_account_id, amount, currency, requested_by, requested_role, reason, input, request_key, request_hash, status, created_at)
     values (?, 'CREDIT_NOTE', ?, ?, ?, 'EUR', 'agent-ann', 'AGENT', 'Network outage goodwill', ?::jsonb, ?, ?, 'PENDING', ?)`,
    [id, inv.id, acc.billing_account_id, amount, JSON.stringify(input), key, `hash-${key}`, h.clock.now()],
  );
  return { id };
}

describe('a pending refund request when its payment can no longer take it', () => {
  async function paid(acc: string, amount: string) {
    const inv = await issued(acc);
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: `${acc}-pay` } })).recordPayment.payment.id;
    const refund = (amount: string, key: string) => ({ i: { paymentId: pay, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reason: 'Customer moved abroad' } });
    return { inv, pay, refund };
  }

  it('other refunds take the payment: a request that no longer fits is closed FAILED REFUND_EXCEEDS_PAYMENT, one that still fits stays PENDING until the payment is refunded in full', async () => {
    const { refund } = await paid('acc_asu_rf', '20.00');
    const big = await pending(ANN, REFUND, refund('8.00', 'asu-rf-big'));
    const small = await pending(ANN, REFUND, refund('6.00', 'asu-rf-small'));
    await as(ADMIN, REFUND, refund('13.00', 'asu-rf-admin1'));
    await expectClosed(big.id, 'REFUND_EXCEEDS_PAYMENT');
    await expectPending(small.id);
    await as(ADMIN, REFUND, refund('7.00', 'asu-rf-admin2'));
    await expectClosed(small.id, 'REFUND_EXCEEDS_PAYMENT');
  });

  it('a REFUND credit note gives the payment back in full: the refund request is closed', async () => {
    const { inv, refund } = await paid('acc_asu_rfnote', '20.00');
    const req = await pending(ANN, REFUND, refund('8.00', 'asu-rfnote'));
    await as(ADMIN, ISSUE, note(inv, '20.00', 'asu-rfnote-admin', 'REFUND'));
    await expectClosed(req.id, 'REFUND_EXCEEDS_PAYMENT');
  });

  it('an approved refund closes the requests it leaves no room for, not itself', async () => {
    const { refund } = await paid('acc_asu_rfappr', '20.00');
    const first = await pending(ANN, REFUND, refund('15.00', 'asu-rfappr-1'));
    const second = await pending(ANN, REFUND, refund('6.00', 'asu-rfappr-2'));
    expect((await as(SUE, APPROVE, { i: { id: first.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'APPROVED' }, payment: { refundedAmount: { amount: '15' } } });
    await expectClosed(second.id, 'REFUND_EXCEEDS_PAYMENT');
  });
});
