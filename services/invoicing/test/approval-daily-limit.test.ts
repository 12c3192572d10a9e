// The daily approval limit (contracts' approval-policy.ts, LEDGERLINE_APPROVAL_DAILY_LIMITS): the
// per-operation limit alone let an agent split a large credit into small ones, none needing approval.
// What one AGENT credited, refunded and accepted alone in the last 24 h (the service's clock), per
// currency, plus the operation at hand, must stay within the daily limit; past it the operation is a
// PENDING ApprovalRequest saying so. Here the per-operation limit is EUR 5.00, the daily EUR 20.00.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' }, approvalDailyLimits: { EUR: '20.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } approvalRequest { id status reason requestedBy amount { amount currency } } } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { id status } creditNote { id } } }`;
const REFUND = `mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } approvalRequest { id status reason } } }`;
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const INVOICE = `query($id: ID!) { invoice(id: $id) { lines { id } } }`;
const { as, db } = disputeCalls(() => h);

/** An issued September invoice (about 35 EUR) of its own account: id and its first line. */
async function issued(acc: string): Promise<{ id: string; line: string }> {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  return { id: inv.id, line: (await h.gql<any>(INVOICE, { id: inv.id })).invoice.lines[0].id };
}
const note = (inv: { id: string; line: string }, amount: string, key: string) => ({ i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage goodwill', lines: [{ invoiceLineId: inv.line, amount }], idempotencyKey: key } });
const credit = async (who: Caller, inv: { id: string; line: string }, amount: string, key: string) => (await as(who, ISSUE, note(inv, amount, key))).issueCreditNote;

describe('the daily approval limit of an agent', () => {
  it('four credits within the limits pass alone; the one crossing the daily limit becomes a request saying so; another agent and a supervisor are not affected', async () => {
    const inv = await issued('acc_dl_1');
    for (const n of [1, 2, 3, 4]) expect(await credit(agent('agent-dl-ann'), inv, '5.00', `dl1-${n}`)).toMatchObject({ creditNote: { total: { amount: '5' } }, approvalRequest: null });
    const fifth = await credit(agent('agent-dl-ann'), inv, '0.01', 'dl1-5');
    expect(fifth.creditNote).toBeNull();
    expect(fifth.approvalRequest).toMatchObject({ status: 'PENDING', requestedBy: 'agent-dl-ann', amount: { amount: '0.01', currency: 'EUR' } });
    expect(fifth.approvalRequest.reason).toContain('daily limit');
    // The same request again answers the same request (its key), nothing moves twice.
    expect((await credit(agent('agent-dl-ann'), inv, '0.01', 'dl1-5')).approvalRequest.id).toBe(fifth.approvalRequest.id);

    expect(await credit(agent('agent-dl-bob'), inv, '5.00', 'dl1-bob')).toMatchObject({ creditNote: { total: { amount: '5' } }, approvalRequest: null });
    expect(await credit(SUE, inv, '5.00', 'dl1-sue')).toMatchObject({ approvalRequest: null });

    // Approved, the request's credit note is not one the agent made alone: it does not use up the day further.
    const approved = (await as(SUE, APPROVE, { i: { id: fifth.approvalRequest.id } })).approveRequest;
    expect(approved.approvalRequest.status).toBe('APPROVED');
    expect((await db().execute('select moved_alone_by from credit_note where id = ?', [approved.creditNote.id]))[0].moved_alone_by).toBeNull();
  });

  it("credits and refunds count together in the agent's day", async () => {
    const inv = await issued('acc_dl_4');
    for (const n of [1, 2, 3]) await credit(agent('agent-dl-eve'), inv, '5.00', `dl4-${n}`);
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'dl4-pay' } })).recordPayment.payment.id;
    const refund = async (amount: string, key: string) => (await as(agent('agent-dl-eve'), REFUND, { i: { paymentId: pay, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reason: 'Customer moved abroad' } })).refundPayment;
    expect(await refund('5.00', 'dl4-rf-1')).toMatchObject({ payment: { refundedAmount: { amount: '5' } }, approvalRequest: null });
    const over = await refund('0.01', 'dl4-rf-2');
    expect(over).toMatchObject({ payment: { refundedAmount: { amount: '5' } }, approvalRequest: { status: 'PENDING' } });
    expect(over.approvalRequest.reason).toMatch(/^Over the daily limit: .*\. Customer moved abroad$/);
  });

  it('two concurrent credits of one agent that together cross the daily limit: exactly one passes alone', async () => {
    const inv = await issued('acc_dl_2');
    for (const n of [1, 2, 3]) await credit(agent('agent-dl-cat'), inv, '5.00', `dl2-${n}`);
    const both = await Promise.all([credit(agent('agent-dl-cat'), inv, '5.00', 'dl2-a'), credit(agent('agent-dl-cat'), inv, '5.00', 'dl2-b')]);
    expect(both.filter((r) => r.creditNote !== null)).toHaveLength(1);
    expect(both.filter((r) => r.approvalRequest?.status === 'PENDING')).toHaveLength(1);
  });

  it('the window is a rolling 24 h by the service clock: a day after the first credits the agent moves alone again', async () => {
    const inv = await issued('acc_dl_3');
    for (const n of [1, 2, 3, 4]) await credit(agent('agent-dl-dan'), inv, '5.00', `dl3-${n}`);
    expect((await credit(agent('agent-dl-dan'), inv, '1.00', 'dl3-over')).approvalRequest?.status).toBe('PENDING');
    h.clock.advance(24 * 3_600_000 - 1000);
    expect((await credit(agent('agent-dl-dan'), inv, '1.00', 'dl3-almost')).approvalRequest?.status, 'still within 24 h').toBe('PENDING');
    h.clock.advance(1000);
    expect(await credit(agent('agent-dl-dan'), inv, '5.00', 'dl3-next-day')).toMatchObject({ creditNote: { total: { amount: '5' } }, approvalRequest: null });
  });
});
