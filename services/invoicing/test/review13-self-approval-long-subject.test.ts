// Four eyes: requested_by keeps the first 200 characters of the requester's subject; the
// self-approval check compared it with the whole subject, so a requester whose subject is longer
// than 200 characters (later given billing:approve) approved their own credit note.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const LONG = `agent-${'y'.repeat(250)}`;
const REQUESTER: Caller = { role: 'AGENT', subject: LONG, scopes: [] };
const SAME_AS_SUPERVISOR: Caller = { role: 'AGENT', subject: LONG, scopes: ['billing:approve'] };
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { approvalRequest { id status } } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { status } } }`;
const INVOICE = `query($id: ID!) { invoice(id: $id) { amountCredited { amount } lines { id } } }`;
const { as, refusal } = disputeCalls(() => h);

describe('self-approval with a subject longer than requested_by keeps', () => {
  it('is refused (SELF_APPROVAL); nothing is credited', async () => {
    const inv = await closedSeptember(h, 'acc_r13_self', 'cus_acc_r13_self');
    const line = (await h.gql<any>(INVOICE, { id: inv.id })).invoice.lines[0].id;
    const req = (await as(REQUESTER, ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage goodwill', lines: [{ invoiceLineId: line, amount: '12.00' }], idempotencyKey: 'r13-self' } })).issueCreditNote.approvalRequest;
    expect(req.status).toBe('PENDING');
    expect(await refusal(SAME_AS_SUPERVISOR, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountCredited.amount).toBe('0');
  });
});
