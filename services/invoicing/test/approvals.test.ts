// Four eyes on money going out (contracts' approval-policy.ts): an AGENT may issue a credit note,
// refund a payment or accept a dispute up to the approval limit of the currency; above it nothing
// moves, the agent gets a PENDING ApprovalRequest, and a supervisor (ADMIN, or an AGENT with scope
// billing:approve) who is not the requester approves it (the operation runs once, as asked) or
// rejects it. Until now any agent moved any amount alone. The limit here is EUR 5.00.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { createInvoicingService } from '../src/service';
import { expireApprovalRequests } from '../src/application/approvals';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, NO_DISPUTE_WORKFLOW, SYSTEM } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const ANN = agent('agent-ann');
const BOB = agent('agent-bob');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const SAM: Caller = { role: 'AGENT', subject: 'super-sam', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };
/** Ann's own subject with the supervisor scope: still the requester. */
const ANN_AS_SUPERVISOR: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: ['billing:approve'] };

const AR = 'id kind subjectId billingAccountId amount { amount currency } requestedBy reason input status decidedBy decisionNote resultId failureCode failureReason createdAt expiresAt decidedAt';
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } invoice { id amountCredited { amount } } approvalRequest { ${AR} } } }`;
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } approvalRequest { ${AR} } } }`;
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const DECIDED = `{ approvalRequest { ${AR} } creditNote { id total { amount } } payment { id refundedAmount { amount } } dispute { id status creditedAmount { amount } decidedBy creditNoteId } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) ${DECIDED} }`;
const REJECT = `mutation($i: RejectRequestInput!) { rejectRequest(input: $i) ${DECIDED} }`;
const LIST = `query($s: ApprovalRequestStatus, $f: Int, $a: String) { approvalRequests(status: $s, first: $f, after: $a) { edges { node { id status kind } cursor } pageInfo { hasNextPage endCursor } } }`;
const D = `id status amount { amount } creditedAmount { amount } creditNoteId decidedBy pendingApproval { id status }`;
const { OPEN, DECIDE, ASSESS } = disputeMutations(D);
const INVOICE = `query($id: ID!) { invoice(id: $id) { id amountCredited { amount } amountPaid { amount } creditNotes { id total { amount } } lines { id grossAmount { amount } } } }`;

const { as, refusal, db, outbox } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const count = async (query: string, params: unknown[]) => Number((await db().execute(query, params))[0].n);

/** An issued September invoice (about 35 EUR) of its own account: id and its first line. */
async function issued(acc: string): Promise<{ id: string; line: string }> {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  expect(inv.state).toBe('SENT');
  return { id: inv.id, line: (await invoice(inv.id)).lines[0].id };
}
const note = (inv: { id: string; line: string }, amount: string, key: string) => ({ i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage goodwill', lines: [{ invoiceLineId: inv.line, amount }], idempotencyKey: key } });

describe('credit notes', () => {
  it('an agent up to the limit credits at once; above it nothing moves and a PENDING request answers (a retry answers the same request)', async () => {
    const inv = await issued('acc_apr_cn1');
    const small = (await as(ANN, ISSUE, note(inv, '5.00', 'apr-cn1-small'))).issueCreditNote;
    expect(small).toMatchObject({ creditNote: { total: { amount: '5' } }, approvalRequest: null, invoice: { amountCredited: { amount: '5' } } });

    const big = (await as(ANN, ISSUE, note(inv, '5.01', 'apr-cn1-big'))).issueCreditNote;
    expect(big.creditNote).toBeNull();
    expect(big.invoice.amountCredited.amount, 'nothing credited').toBe('5');
    expect(big.approvalRequest).toMatchObject({
      kind: 'CREDIT_NOTE', subjectId: inv.id, billingAccountId: 'acc_apr_cn1', amount: { amount: '5.01', currency: 'EUR' }, requestedBy: 'agent-ann',
      reason: 'Network outage goodwill', status: 'PENDING', decidedBy: null, resultId: null, decidedAt: null,
      input: { invoiceId: inv.id, kind: 'CREDIT', lines: [{ invoiceLineId: inv.line, amount: '5.01' }], idempotencyKey: 'apr-cn1-big' },
    });
    expect(await count(`select count(*) as n from credit_note where idempotency_key = ?`, ['apr-cn1-big'])).toBe(0);
    // The same request again: the same pending request; the key with other input: CONFLICT.
    expect((await as(ANN, ISSUE, note(inv, '5.01', 'apr-cn1-big'))).issueCreditNote.approvalRequest.id).toBe(big.approvalRequest.id);
    expect(await refusal(ANN, ISSUE, note(inv, '5.02', 'apr-cn1-big'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    // The list shows it to staff, not to customers.
    const pending = (await as(SUE, LIST, { s: 'PENDING' })).approvalRequests.edges.map((e: any) => e.node.id);
    expect(pending).toContain(big.approvalRequest.id);
    expect(await refusal(customer('cus_acc_apr_cn1'), LIST, {})).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('the requester cannot approve their own request (SELF_APPROVAL), a plain agent or a customer cannot approve at all; a supervisor approves: credited once, approving again answers the same', async () => {
    const inv = await issued('acc_apr_cn2');
    const req = (await as(ANN, ISSUE, note(inv, '12.00', 'apr-cn2'))).issueCreditNote.approvalRequest;
    expect(await refusal(ANN_AS_SUPERVISOR, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await refusal(ANN_AS_SUPERVISOR, REJECT, { i: { id: req.id, reason: 'mine' } })).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await refusal(BOB, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(customer('cus_acc_apr_cn2'), APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(SYSTEM, APPROVE, { i: { id: req.id } }), 'a workflow is not a second person').toMatchObject({ code: 'FORBIDDEN' });
    expect((await invoice(inv.id)).amountCredited.amount).toBe('0');

    const approved = (await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest;
    expect(approved.approvalRequest).toMatchObject({ status: 'APPROVED', decidedBy: 'super-sue', resultId: approved.creditNote.id, decidedAt: expect.any(String) });
    expect(approved.creditNote.total.amount).toBe('12');
    expect((await invoice(inv.id)).amountCredited.amount).toBe('12');
    // Again (the same supervisor, another one), and the agent's own retry: the same note, credited once.
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest.creditNote.id).toBe(approved.creditNote.id);
    expect((await as(SAM, APPROVE, { i: { id: req.id } })).approveRequest.approvalRequest.decidedBy).toBe('super-sue');
    expect((await as(ANN, ISSUE, note(inv, '12.00', 'apr-cn2'))).issueCreditNote.creditNote.id).toBe(approved.creditNote.id);
    expect((await invoice(inv.id)).creditNotes).toHaveLength(1);
    expect(await refusal(SAM, REJECT, { i: { id: req.id, reason: 'too late' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    // Audit: the request and the decision, each once, on the outbox (who and when are on the row too).
    const requested = (await outbox('billing.invoicing.approvalrequest.created')).filter((e: any) => e.data.approvalRequestId === req.id);
    expect(requested.map((e: any) => e.data)).toEqual([expect.objectContaining({ kind: 'CREDIT_NOTE', status: 'PENDING', requestedBy: 'agent-ann', amount: '12.00', currency: 'EUR', billingAccountId: 'acc_apr_cn2' })]);
    const decided = (await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === req.id);
    expect(decided.map((e: any) => e.data)).toEqual([expect.objectContaining({ status: 'APPROVED', decidedBy: 'super-sue', resultId: approved.creditNote.id })]);
  });

  it('two supervisors approving at the same moment credit once', async () => {
    const inv = await issued('acc_apr_cn3');
    const req = (await as(ANN, ISSUE, note(inv, '7.00', 'apr-cn3'))).issueCreditNote.approvalRequest;
    const both = await Promise.all([as(SUE, APPROVE, { i: { id: req.id } }), as(SAM, APPROVE, { i: { id: req.id } }), as(ADMIN, APPROVE, { i: { id: req.id } })]);
    expect(new Set(both.map((b) => b.approveRequest.creditNote.id)).size).toBe(1);
    expect(await count(`select count(*) as n from credit_note where invoice_id = ?`, [inv.id])).toBe(1);
    expect((await invoice(inv.id)).amountCredited.amount).toBe('7');
  });

  it('rejected: nothing moves, the reason is kept, it cannot be approved afterwards', async () => {
    const inv = await issued('acc_apr_cn4');
    const req = (await as(ANN, ISSUE, note(inv, '9.00', 'apr-cn4'))).issueCreditNote.approvalRequest;
    expect(await refusal(SUE, REJECT, { i: { id: req.id, reason: ' ' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reason' });
    const rejected = (await as(SUE, REJECT, { i: { id: req.id, reason: 'Outage lasted an hour; 2.00 at most' } })).rejectRequest;
    expect(rejected).toMatchObject({ approvalRequest: { status: 'REJECTED', decidedBy: 'super-sue', decisionNote: 'Outage lasted an hour; 2.00 at most', resultId: null }, creditNote: null });
    expect(await refusal(SAM, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    expect((await as(SUE, REJECT, { i: { id: req.id, reason: 'again' } })).rejectRequest.approvalRequest.decisionNote, 'rejecting again answers the same').toBe('Outage lasted an hour; 2.00 at most');
    expect((await invoice(inv.id)).amountCredited.amount).toBe('0');
    expect((await as(ANN, ISSUE, note(inv, '9.00', 'apr-cn4'))).issueCreditNote.approvalRequest.status, 'the same key answers the rejected request').toBe('REJECTED');
    const listed = (await as(SUE, LIST, { s: 'REJECTED' })).approvalRequests.edges.map((e: any) => e.node.id);
    expect(listed).toContain(req.id);
  });

  it('ADMIN and a supervisor act at once at any amount; approval limits are per currency', async () => {
    const inv = await issued('acc_apr_cn5');
    expect((await as(ADMIN, ISSUE, note(inv, '20.00', 'apr-cn5-admin'))).issueCreditNote).toMatchObject({ creditNote: { total: { amount: '20' } }, approvalRequest: null });
    expect((await as(SUE, ISSUE, note(inv, '6.00', 'apr-cn5-sue'))).issueCreditNote).toMatchObject({ creditNote: { total: { amount: '6' } }, approvalRequest: null });
  });

  it('an approval whose operation would now be refused ends FAILED with that code and reason (it no longer waits as PENDING); approving again answers the same, rejecting is APPROVAL_REQUEST_DECIDED', async () => {
    // A REFUND note of 10.00 of the 20.00 paid; meanwhile an admin refunds 15.00 of the payment, so only 5.00
    // is left paid. (A line credited meanwhile no longer gets this far: the note that uses its room up
    // closes the request at once, test/approval-subject-used-up.test.ts; what is paid may still go up again.)
    const inv = await issued('acc_apr_cn6');
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'apr-cn6-pay' } })).recordPayment.payment.id;
    const req = (await as(ANN, ISSUE, { i: { ...note(inv, '10.00', 'apr-cn6').i, kind: 'REFUND' } })).issueCreditNote.approvalRequest;
    await as(ADMIN, REFUND, { i: { paymentId: pay, amount: { amount: '15.00', currency: 'EUR' }, idempotencyKey: 'apr-cn6-admin' } });
    const failed = (await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest;
    expect(failed).toMatchObject({ approvalRequest: { status: 'FAILED', decidedBy: 'super-sue', decidedAt: expect.any(String), resultId: null, failureCode: 'CREDIT_NOTE_REFUND_EXCEEDS_PAID', failureReason: expect.any(String) }, creditNote: null });
    expect((await invoice(inv.id)).amountCredited.amount, 'nothing credited').toBe('0');
    expect((await as(SUE, LIST, { s: 'PENDING' })).approvalRequests.edges.map((e: any) => e.node.id)).not.toContain(req.id);
    expect((await as(SUE, LIST, { s: 'FAILED' })).approvalRequests.edges.map((e: any) => e.node.id)).toContain(req.id);
    expect((await as(SAM, APPROVE, { i: { id: req.id } })).approveRequest.approvalRequest).toMatchObject({ status: 'FAILED', decidedBy: 'super-sue', failureCode: failed.approvalRequest.failureCode });
    expect(await refusal(SAM, REJECT, { i: { id: req.id, reason: 'too late' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    const decided = (await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === req.id);
    expect(decided.map((e: any) => e.data)).toEqual([expect.objectContaining({ status: 'FAILED', decidedBy: 'super-sue', failureCode: failed.approvalRequest.failureCode, failureReason: failed.approvalRequest.failureReason })]);
    // The agent asks again with a new key: a new request (the failed one does not hold the invoice).
    expect((await as(ANN, ISSUE, note(inv, '6.00', 'apr-cn6-again'))).issueCreditNote.approvalRequest.status).toBe('PENDING');
  });
});

describe('refunds', () => {
  it('above the limit: pending, nothing refunded; approved once; a payment already refunded meanwhile ends the approval FAILED with the refund error (then it cannot be rejected)', async () => {
    const inv = await issued('acc_apr_rf');
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'apr-rf-pay' } })).recordPayment.payment.id;
    const refund = (amount: string, key: string) => ({ i: { paymentId: pay, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reason: 'Customer moved abroad' } });
    expect((await as(ANN, REFUND, refund('2.00', 'apr-rf-small'))).refundPayment).toMatchObject({ payment: { refundedAmount: { amount: '2' } }, approvalRequest: null });

    const pending = (await as(ANN, REFUND, refund('8.00', 'apr-rf-big'))).refundPayment;
    expect(pending).toMatchObject({ payment: { id: pay, refundedAmount: { amount: '2' } }, approvalRequest: { kind: 'REFUND', subjectId: pay, amount: { amount: '8.00', currency: 'EUR' }, reason: 'Customer moved abroad', status: 'PENDING' } });
    expect(await count(`select count(*) as n from refund where payment_id = ?`, [pay])).toBe(1);
    expect(await refusal(ANN_AS_SUPERVISOR, APPROVE, { i: { id: pending.approvalRequest.id } })).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    const twice = await Promise.all([as(SUE, APPROVE, { i: { id: pending.approvalRequest.id } }), as(ADMIN, APPROVE, { i: { id: pending.approvalRequest.id } })]);
    expect(twice.map((t) => t.approveRequest.payment.refundedAmount.amount)).toEqual(['10', '10']);
    expect(await count(`select count(*) as n from refund where payment_id = ?`, [pay])).toBe(2);

    // 10 left on the payment: an agent asks for all of it, an admin refunds 1 meanwhile.
    const late = (await as(BOB, REFUND, refund('10.00', 'apr-rf-late'))).refundPayment.approvalRequest;
    await as(ADMIN, REFUND, refund('1.00', 'apr-rf-admin'));
    expect((await as(SUE, APPROVE, { i: { id: late.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'FAILED', failureCode: 'REFUND_EXCEEDS_PAYMENT' }, payment: { id: pay, refundedAmount: { amount: '11' } } });
    expect(await refusal(SUE, REJECT, { i: { id: late.id, reason: 'Only 9 left' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    expect(await count(`select count(*) as n from refund where payment_id = ?`, [pay])).toBe(3);
  });
});

describe('accepting a dispute', () => {
  async function inReview(acc: string, amount: string) {
    const inv = await issued(acc);
    const d = (await as(customer(`cus_${acc}`), OPEN, { i: { invoiceId: inv.id, amount, reason: 'Roaming I did not make', idempotencyKey: `open-${acc}` } })).openDispute.dispute;
    expect((await as(SYSTEM, ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute.status).toBe('IN_REVIEW');
    return { inv, d };
  }
  const accept = (disputeId: string, amount?: string) => ({ i: { disputeId, decision: 'ACCEPT', ...(amount ? { amount } : {}), note: 'Roaming partner misrouted the calls' } });

  it('an agent ACCEPT above the limit waits (the dispute stays IN_REVIEW, nothing credited); approved, it is ACCEPTED once, decided by the agent', async () => {
    const { inv, d } = await inReview('acc_apr_dsp1', '8.00');
    const r = (await as(ANN, `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { ${D} } approvalRequest { ${AR} } } }`, accept(d.id))).decideDispute;
    expect(r.dispute).toMatchObject({ status: 'IN_REVIEW', creditNoteId: null, pendingApproval: { id: r.approvalRequest.id, status: 'PENDING' } });
    expect(r.approvalRequest).toMatchObject({ kind: 'DISPUTE_ACCEPT', subjectId: d.id, amount: { amount: '8.00', currency: 'EUR' }, reason: 'Roaming partner misrouted the calls', status: 'PENDING' });
    expect((await invoice(inv.id)).creditNotes).toEqual([]);
    // Another ACCEPT for another amount while one waits: CONFLICT; the same one: the same request.
    expect(await refusal(BOB, DECIDE, accept(d.id, '7.00'))).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_PENDING' });
    expect((await as(ANN, `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { approvalRequest { id } } }`, accept(d.id))).decideDispute.approvalRequest.id).toBe(r.approvalRequest.id);

    const both = await Promise.all([as(SUE, APPROVE, { i: { id: r.approvalRequest.id } }), as(SAM, APPROVE, { i: { id: r.approvalRequest.id } })]);
    for (const b of both) expect(b.approveRequest.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '8' }, decidedBy: 'agent-ann' });
    expect(both[0].approveRequest.approvalRequest.resultId).toBe(both[0].approveRequest.dispute.creditNoteId);
    const after = await invoice(inv.id);
    expect(after.creditNotes.map((c: any) => c.total.amount)).toEqual(['8']);
    expect((await as(SUE, `query($id: ID!) { dispute(id: $id) { pendingApproval { id } } }`, { id: d.id })).dispute.pendingApproval).toBeNull();
  });

  it('an agent ACCEPT up to the limit, or a REJECT, decides at once', async () => {
    const { d } = await inReview('acc_apr_dsp2', '8.00');
    expect((await as(ANN, DECIDE, accept(d.id, '5.00'))).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '5' } });
    const other = await inReview('acc_apr_dsp3', '9.00');
    expect((await as(ANN, DECIDE, { i: { disputeId: other.d.id, decision: 'REJECT', note: 'Calls were made' } })).decideDispute.dispute.status).toBe('REJECTED');
  });

  it('the workflow decides at its deadline while an ACCEPT waits: the clock wins, approving ends the request FAILED (DISPUTE_ALREADY_DECIDED) and credits nothing more', async () => {
    const { inv, d } = await inReview('acc_apr_dsp4', '9.00');
    const req = (await as(ANN, `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { approvalRequest { id } } }`, accept(d.id, '7.00'))).decideDispute.approvalRequest;
    // The SLA's final breach: the workflow (SYSTEM) accepts in the customer's favour, all of it, at once.
    expect((await as(SYSTEM, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Not decided in time' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '9' } });
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED' }, dispute: { status: 'ACCEPTED', creditedAmount: { amount: '9' } } });
    expect((await invoice(inv.id)).creditNotes.map((c: any) => c.total.amount)).toEqual(['9']);
    expect(await refusal(SUE, REJECT, { i: { id: req.id, reason: 'Decided at the deadline' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
  });
});

describe('a transient failure while approving', () => {
  it('the card provider away (INTERNAL) or a connection error: the approval fails with it and the request stays PENDING; approved later, refunded once', async () => {
    const inv = await issued('acc_apr_tr');
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'apr-tr-pay' } })).recordPayment.payment.id;
    const req = (await as(ANN, REFUND, { i: { paymentId: pay, amount: { amount: '8.00', currency: 'EUR' }, idempotencyKey: 'apr-tr', reason: 'Double charge' } })).refundPayment.approvalRequest;
    const refund = h.payments.refund.bind(h.payments);
    try {
      h.payments.refund = async () => { throw new DomainError('PAYMENT_PROVIDER_UNAVAILABLE', 'The payment provider did not answer; try again', {}, 'INTERNAL'); };
      expect(await refusal(SUE, APPROVE, { i: { id: req.id } })).toMatchObject({ reason: 'PAYMENT_PROVIDER_UNAVAILABLE' });
      h.payments.refund = async () => { throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }); };
      expect((await refusal(SUE, APPROVE, { i: { id: req.id } })).code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      h.payments.refund = refund;
    }
    const row = (await db().execute(`select status, failure_code, decided_by from approval_request where id = ?`, [req.id]))[0];
    expect(row).toMatchObject({ status: 'PENDING', failure_code: null, decided_by: null });
    expect((await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === req.id)).toEqual([]);
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'APPROVED' }, payment: { refundedAmount: { amount: '8' } } });
    expect(await count(`select count(*) as n from refund where payment_id = ?`, [pay])).toBe(1);
  });
});

describe('the list and the setting', () => {
  it('approvalRequests pages newest first, each request once; any staff member reads them', async () => {
    const all = (await as(ANN, LIST, {})).approvalRequests.edges.map((e: any) => e.node.id);
    expect(all.length).toBeGreaterThan(3);
    const paged: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await as(SUE, LIST, { f: 2, a: after })).approvalRequests;
      paged.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(all);
  });

  it('a bad LEDGERLINE_APPROVAL_LIMITS stops start-up, naming the setting', () => {
    const before = process.env.LEDGERLINE_APPROVAL_LIMITS;
    try {
      for (const bad of ['{"EUR":"lots"}', 'EUR=50', '{"EUR":"1.001"}']) {
        process.env.LEDGERLINE_APPROVAL_LIMITS = bad;
        expect(() => createInvoicingService(), bad).toThrow(/LEDGERLINE_APPROVAL_LIMITS/);
      }
    } finally {
      if (before === undefined) delete process.env.LEDGERLINE_APPROVAL_LIMITS;
      else process.env.LEDGERLINE_APPROVAL_LIMITS = before;
    }
  });
});

// Last in the file: it moves the clock past the TTL (LEDGERLINE_APPROVAL_TTL_HOURS, default 72 h).
describe('expiry', () => {
  const HOUR = 3_600_000;
  it('a request older than the TTL cannot be approved or rejected (APPROVAL_EXPIRED); the due-date pass marks it EXPIRED once, with an event; a younger one waits on', async () => {
    const inv = await issued('acc_apr_exp');
    const old = (await as(ANN, ISSUE, note(inv, '9.00', 'apr-exp-old'))).issueCreditNote.approvalRequest;
    expect(Date.parse(old.expiresAt) - Date.parse(old.createdAt)).toBe(72 * HOUR);
    h.clock.advance(71 * HOUR);
    const young = (await as(ANN, ISSUE, note(inv, '8.00', 'apr-exp-young'))).issueCreditNote.approvalRequest;
    h.clock.advance(HOUR); // old: exactly 72 h
    expect(await refusal(SUE, APPROVE, { i: { id: old.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED', field: 'input.id' });
    expect(await refusal(SUE, REJECT, { i: { id: old.id, reason: 'stale' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED' });
    expect((await invoice(inv.id)).amountCredited.amount).toBe('0');

    const pass = () => expireApprovalRequests(h.svc.runtime.orm.em.fork() as Em, h.clock.now(), 72);
    const expired = await pass();
    expect(expired.map((r) => r.id)).toContain(old.id);
    expect(expired.map((r) => r.id)).not.toContain(young.id);
    expect(await pass(), 'a second pass finds nothing more').toEqual([]);
    const listed = (await as(SUE, LIST, { s: 'EXPIRED' })).approvalRequests.edges.map((e: any) => e.node.id);
    expect(listed).toContain(old.id);
    const [row] = (await as(SUE, LIST, { s: 'EXPIRED', f: 100 })).approvalRequests.edges.filter((e: any) => e.node.id === old.id);
    expect(row.node).toMatchObject({ status: 'EXPIRED' });
    const events = (await outbox('billing.invoicing.approvalrequest.expired')).filter((e: any) => e.data.approvalRequestId === old.id);
    expect(events.map((e: any) => e.data)).toEqual([expect.objectContaining({ status: 'EXPIRED', kind: 'CREDIT_NOTE', decidedBy: null, amount: '9.00' })]);
    expect(await refusal(SUE, APPROVE, { i: { id: old.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED' });
    // The same key and input answer the expired request, as a rejected one; a new key asks again.
    expect((await as(ANN, ISSUE, note(inv, '9.00', 'apr-exp-old'))).issueCreditNote.approvalRequest).toMatchObject({ id: old.id, status: 'EXPIRED' });
    // The younger one is still approvable.
    expect((await as(SUE, APPROVE, { i: { id: young.id } })).approveRequest.approvalRequest.status).toBe('APPROVED');
    expect((await invoice(inv.id)).amountCredited.amount).toBe('8');
  });

  it('a pending dispute ACCEPT that expired no longer blocks another ACCEPT', async () => {
    const inv = await issued('acc_apr_exp2');
    const d = (await as(customer('cus_acc_apr_exp2'), OPEN, { i: { invoiceId: inv.id, amount: '8.00', reason: 'Roaming I did not make', idempotencyKey: 'open-acc_apr_exp2' } })).openDispute.dispute;
    await as(SYSTEM, ASSESS, { i: { disputeId: d.id } });
    const accept = { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Roaming partner misrouted the calls' } };
    const first = (await as(ANN, `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { approvalRequest { id } } }`, accept)).decideDispute.approvalRequest;
    h.clock.advance(73 * HOUR);
    await expireApprovalRequests(h.svc.runtime.orm.em.fork() as Em, h.clock.now(), 72);
    const second = (await as(ANN, `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { approvalRequest { id status } } }`, accept)).decideDispute.approvalRequest;
    expect(second).toMatchObject({ status: 'PENDING' });
    expect(second.id).not.toBe(first.id);
  });

  it('the running service expires them: its due-date job pass marks a stale request EXPIRED by the service clock', async () => {
    const running = { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, collections: true, collectionsIntervalMs: 50 }; // passed on to the service
    const other = await startHarness('2026-10-01T08:00:00Z', running);
    try {
      const k = other.svc.runtime.orm.em.fork().getConnection();
      await k.execute(
        `insert into approval_request (id, kind, subject_id, billing_account_id, amount, currency, requested_by, requested_role, reason, input, request_key, request_hash, status, created_at)
         values ('apr_wired', 'REFUND', 'pay_x', 'acc_x', 9, 'EUR', 'agent-ann', 'AGENT', 'r', '{}', 'apr-wired', 'h', 'PENDING', ?)`,
        [other.clock.now()],
      );
      other.clock.advance(72 * HOUR);
      const status = async () => (await k.execute(`select status from approval_request where id = 'apr_wired'`))[0].status;
      for (let i = 0; i < 100 && (await status()) !== 'EXPIRED'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await status()).toBe('EXPIRED');
    } finally {
      await other.svc.close();
    }
  });

  it('a bad LEDGERLINE_APPROVAL_TTL_HOURS stops start-up, naming the setting', () => {
    const before = process.env.LEDGERLINE_APPROVAL_TTL_HOURS;
    try {
      for (const bad of ['0', 'soon']) {
        process.env.LEDGERLINE_APPROVAL_TTL_HOURS = bad;
        expect(() => createInvoicingService(), bad).toThrow(/LEDGERLINE_APPROVAL_TTL_HOURS/);
      }
    } finally {
      if (before === undefined) delete process.env.LEDGERLINE_APPROVAL_TTL_HOURS;
      else process.env.LEDGERLINE_APPROVAL_TTL_HOURS = before;
    }
  });
});
