// An agent's partial ACCEPT waits for a supervisor (maker-checker) while the dispute is decided
// otherwise: the workflow's ACCEPT in full at its final deadline (the activity calls decideDispute as
// SYSTEM, as here), another agent's REJECT, the customer's withdrawal, resolveDispute on the invoice.
// The request must then tell the truth: approving it never ends APPROVED with nothing done (it ends
// FAILED DISPUTE_ALREADY_DECIDED), and it no longer waits PENDING in the supervisors' list once the
// dispute is closed (before, it stayed PENDING until approved, rejected or expired).
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
const BOB = agent('agent-bob');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };

const AR = 'id status decidedBy decidedAt resultId failureCode failureReason';
const D = 'id status creditedAmount { amount } creditNoteId decidedBy pendingApproval { id status }';
const { OPEN, DECIDE, ASSESS, WITHDRAW } = disputeMutations(D);
const ASK = `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { approvalRequest { ${AR} } } }`;
const PAYLOAD = `{ approvalRequest { ${AR} } creditNote { id } dispute { ${D} } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) ${PAYLOAD} }`;
const REJECT = `mutation($i: RejectRequestInput!) { rejectRequest(input: $i) ${PAYLOAD} }`;
const LIST = 'query($s: ApprovalRequestStatus) { approvalRequests(status: $s, first: 100) { edges { node { id } } } }';
const DISPUTE = `query($id: ID!) { dispute(id: $id) { ${D} } }`;
const RESOLVE = 'mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { id } } }';
const CREDIT_NOTES = 'query($id: ID!) { invoice(id: $id) { creditNotes { total { amount } } } }';

const { as, refusal, db, outbox } = disputeCalls(() => h);
const pendingIds = async () => (await as(SUE, LIST, { s: 'PENDING' })).approvalRequests.edges.map((e: any) => e.node.id);
const creditNotes = async (invoiceId: string) => (await h.gql<any>(CREDIT_NOTES, { id: invoiceId })).invoice.creditNotes.map((c: any) => c.total.amount);
const decidedEvents = async (id: string) => (await outbox('billing.invoicing.approvalrequest.decided')).filter((e: any) => e.data.approvalRequestId === id).map((e: any) => e.data);

/** An IN_REVIEW dispute of 9.00 EUR on a fresh account's September invoice, and Ann's pending ACCEPT of 7.00 of it. */
async function pendingPartialAccept(acc: string) {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  const d = (await as(customer(`cus_${acc}`), OPEN, { i: { invoiceId: inv.id, amount: '9.00', reason: 'Roaming I did not make', idempotencyKey: `open-${acc}` } })).openDispute.dispute;
  expect((await as(SYSTEM, ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute.status).toBe('IN_REVIEW');
  const req = (await as(ANN, ASK, { i: { disputeId: d.id, decision: 'ACCEPT', amount: '7.00', note: 'Roaming partner misrouted part of the calls' } })).decideDispute.approvalRequest;
  expect(req).toMatchObject({ status: 'PENDING' });
  return { inv, d, req };
}

/** The request once its dispute was closed otherwise: FAILED DISPUTE_ALREADY_DECIDED by nobody, out of the pending list, said once on the outbox. */
async function expectClosed(disputeId: string, reqId: string, status: string) {
  const dispute = (await as(SUE, DISPUTE, { id: disputeId })).dispute;
  expect(dispute.status).toBe(status);
  expect(dispute.pendingApproval, 'no stale request shown on the dispute').toBeNull();
  expect(await pendingIds(), 'no stale work in the supervisors\' list').not.toContain(reqId);
  const [row] = await db().execute('select status, decided_by, decided_at, failure_code, failure_reason, result_id from approval_request where id = ?', [reqId]);
  expect(row).toMatchObject({ status: 'FAILED', decided_by: null, failure_code: 'DISPUTE_ALREADY_DECIDED', result_id: null, decided_at: expect.anything() });
  expect(row.failure_reason).toContain(status);
  expect(await decidedEvents(reqId)).toEqual([expect.objectContaining({ status: 'FAILED', decidedBy: null, failureCode: 'DISPUTE_ALREADY_DECIDED' })]);
}

describe('a pending dispute ACCEPT when the dispute is decided otherwise', () => {
  it('the workflow accepts all at its deadline: the request is closed FAILED DISPUTE_ALREADY_DECIDED at once; approving afterwards answers that, never APPROVED, and credits nothing more', async () => {
    const { inv, d, req } = await pendingPartialAccept('acc_adm_deadline');
    // The SLA's final breach: the workflow's activity calls decideDispute ACCEPT as SYSTEM, all of it.
    expect((await as(SYSTEM, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Not decided in time' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '9' } });
    await expectClosed(d.id, req.id, 'ACCEPTED');

    const approved = (await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest;
    expect(approved.approvalRequest).toMatchObject({ status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED', resultId: null });
    expect(approved.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '9' }, decidedBy: 'worker' });
    expect(await refusal(SUE, REJECT, { i: { id: req.id, reason: 'Decided at the deadline' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    expect(await creditNotes(inv.id)).toEqual(['9']);
    expect(await decidedEvents(req.id), 'approving a closed request says nothing again').toHaveLength(1);
  });

  it('another agent rejects it: the request is closed; approving answers FAILED and credits nothing', async () => {
    const { inv, d, req } = await pendingPartialAccept('acc_adm_reject');
    expect((await as(BOB, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'The calls were made' } })).decideDispute.dispute.status).toBe('REJECTED');
    await expectClosed(d.id, req.id, 'REJECTED');
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest).toMatchObject({ approvalRequest: { status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED' }, dispute: { status: 'REJECTED', creditNoteId: null } });
    expect(await creditNotes(inv.id)).toEqual([]);
  });

  it('the customer withdraws it, or resolveDispute closes the invoice\'s disputes: the request is closed', async () => {
    const w = await pendingPartialAccept('acc_adm_withdraw');
    await as(customer('cus_acc_adm_withdraw'), WITHDRAW, { i: { disputeId: w.d.id } });
    await expectClosed(w.d.id, w.req.id, 'WITHDRAWN');

    const r = await pendingPartialAccept('acc_adm_resolve');
    await as(SUE, RESOLVE, { i: { invoiceId: r.inv.id } });
    await expectClosed(r.d.id, r.req.id, 'REJECTED');
    expect(await creditNotes(r.inv.id)).toEqual([]);
  });

  it('a request still PENDING on a decided dispute (closed before this fix, or skipped while locked) is approved FAILED DISPUTE_ALREADY_DECIDED, never APPROVED with nothing done', async () => {
    for (const [acc, decision, status] of [['acc_adm_stale_acc', 'ACCEPT', 'ACCEPTED'], ['acc_adm_stale_rej', 'REJECT', 'REJECTED']] as const) {
      const { inv, d, req } = await pendingPartialAccept(acc);
      await as(SYSTEM, DECIDE, { i: { disputeId: d.id, decision, note: 'Decided by the workflow' } });
      await db().execute(`update approval_request set status = 'PENDING', decided_at = null, failure_code = null, failure_reason = null where id = ?`, [req.id]);
      expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest, acc).toMatchObject({ approvalRequest: { status: 'FAILED', decidedBy: 'super-sue', failureCode: 'DISPUTE_ALREADY_DECIDED', resultId: null }, dispute: { status } });
      expect(await creditNotes(inv.id), acc).toEqual(decision === 'ACCEPT' ? ['9'] : []);
    }
  });

  it('approving and the deadline decision at the same moment: no deadlock, one outcome that tells the truth', async () => {
    for (const acc of ['acc_adm_race1', 'acc_adm_race2', 'acc_adm_race3']) {
      const { inv, d, req } = await pendingPartialAccept(acc);
      const [approved] = await Promise.all([
        as(SUE, APPROVE, { i: { id: req.id } }),
        as(SYSTEM, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Not decided in time' } }),
      ]);
      const request = approved.approveRequest.approvalRequest;
      const dispute = (await as(SUE, DISPUTE, { id: d.id })).dispute;
      expect(dispute.pendingApproval, acc).toBeNull();
      if (request.status === 'APPROVED') {
        expect(dispute, acc).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '7' }, decidedBy: 'agent-ann', creditNoteId: request.resultId });
        expect(await creditNotes(inv.id), acc).toEqual(['7']);
      } else {
        expect(request, acc).toMatchObject({ status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED' });
        expect(dispute, acc).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '9' }, decidedBy: 'worker' });
        expect(await creditNotes(inv.id), acc).toEqual(['9']);
      }
      expect(await decidedEvents(req.id), acc).toHaveLength(1);
    }
  });

  it('the request\'s own approval still ends APPROVED with its credit note (it is not closed by the decision it makes)', async () => {
    const { inv, req } = await pendingPartialAccept('acc_adm_own');
    const approved = (await as(SUE, APPROVE, { i: { id: req.id } })).approveRequest;
    expect(approved.approvalRequest).toMatchObject({ status: 'APPROVED', decidedBy: 'super-sue', failureCode: null, resultId: approved.dispute.creditNoteId });
    expect(approved.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '7' }, pendingApproval: null });
    expect(await creditNotes(inv.id)).toEqual(['7']);
    expect(await decidedEvents(req.id)).toEqual([expect.objectContaining({ status: 'APPROVED', decidedBy: 'super-sue' })]);
  });
});
