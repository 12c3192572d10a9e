// Disputes review (2026-11-30, session 33):
// 1. A customer reading their dispute (dispute(id), disputes, Invoice.disputes) was shown `decidedBy`
//    as stored: the deciding agent's subject ("agent-h15"), or `resolveDispute:<agent>`. Who at the
//    operator decided is staff's own (events-hub drops it for partners; subscribers' and wallets'
//    "changedBy"/"resolvedBy" are staff only). A customer now sees decidedBy only when it says how the
//    dispute closed (auto:<rule>, rerate:…, creditNote:…, regenerateInvoice, resolveDispute) or names
//    them (their own withdrawal); otherwise null. Staff see it as stored.
// 2. Text PostgreSQL cannot hold (a NUL) in a dispute's reason, idempotency key, usage record id or a
//    decision's note failed the insert: INTERNAL instead of BAD_USER_INPUT naming the field. An empty
//    invoiceLineId ("") was stored as the dispute's line (invoiceLineId "" on an invoice-level dispute).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, SYSTEM, agent, closedSeptember, customer, disputeCalls, disputeMutations, recordingDunning } from './dispute-support';

let h: Harness;
const { dunning } = recordingDunning();
const AGENT = agent('agent-h15');
const D = 'id status invoiceLineId decidedBy decisionNote';
const { OPEN, DECIDE, WITHDRAW } = disputeMutations(D);
const { as, refusal } = disputeCalls(() => h);
const READ = `query($id: ID!) { dispute(id: $id) { ${D} } }`;
const LIST = `query { disputes { edges { node { id decidedBy } } } }`;
const OF_INVOICE = `query($id: ID!) { invoice(id: $id) { disputes { id decidedBy } } }`;

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('1. who decided is staff’s', () => {
  it("a customer does not see the agent who decided (dispute, disputes, Invoice.disputes); they see how it closed, and their own withdrawal; staff see it all", async () => {
    const inv = await closedSeptember(h, 'acc_h15_who', 'cus_h15_who');
    const cus = customer('cus_h15_who');
    const open = async (key: string, amount = '6.00') => (await as(cus, OPEN, { i: { invoiceId: inv.id, amount, reason: 'Wrong', idempotencyKey: key } })).openDispute.dispute;
    const byAgent = await open('h15-who-1');
    await as(AGENT, DECIDE, { i: { disputeId: byAgent.id, decision: 'REJECT', note: 'The charges are right' } });
    const withdrawn = await open('h15-who-2');
    await as(cus, WITHDRAW, { i: { disputeId: withdrawn.id } });
    const resolved = await open('h15-who-3');
    await as(AGENT, 'mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id } });

    // Staff: as stored.
    expect((await as(AGENT, READ, { id: byAgent.id })).dispute).toMatchObject({ status: 'REJECTED', decidedBy: 'agent-h15', decisionNote: 'The charges are right' });
    expect((await as(AGENT, READ, { id: resolved.id })).dispute.decidedBy).toBe('resolveDispute:agent-h15');

    // The customer: the decision and its note, not the agent.
    expect((await as(cus, READ, { id: byAgent.id })).dispute).toMatchObject({ status: 'REJECTED', decidedBy: null, decisionNote: 'The charges are right' });
    expect((await as(cus, READ, { id: resolved.id })).dispute).toMatchObject({ status: 'REJECTED', decidedBy: null });
    expect((await as(cus, READ, { id: withdrawn.id })).dispute).toMatchObject({ status: 'WITHDRAWN', decidedBy: 'cus_h15_who' });
    const listed = new Map((await as(cus, LIST, {})).disputes.edges.map((e: any) => [e.node.id, e.node.decidedBy]));
    expect([listed.get(byAgent.id), listed.get(resolved.id), listed.get(withdrawn.id)]).toEqual([null, null, 'cus_h15_who']);
    const ofInvoice = new Map((await as(cus, OF_INVOICE, { id: inv.id })).invoice.disputes.map((d: any) => [d.id, d.decidedBy]));
    expect([ofInvoice.get(byAgent.id), ofInvoice.get(resolved.id)]).toEqual([null, null]);

    // How it closed is the customer's to know: a rule (small goodwill, at most 5.00 EUR).
    const small = await open('h15-who-4', '2.00');
    await as(SYSTEM, 'mutation($i: AssessDisputeInput!) { assessDispute(input: $i) { dispute { id } } }', { i: { disputeId: small.id } });
    expect((await as(cus, READ, { id: small.id })).dispute).toMatchObject({ status: 'ACCEPTED', decidedBy: 'auto:small-goodwill' });
  });
});

describe('2. text the row cannot hold', () => {
  it('a NUL in the reason, key, usage record id or note, or an empty invoiceLineId, is BAD_USER_INPUT naming the field; nothing is opened or decided', async () => {
    const inv = await closedSeptember(h, 'acc_h15_nul', 'cus_h15_nul');
    const cus = customer('cus_h15_nul');
    const base = { invoiceId: inv.id, amount: '6.00', reason: 'Wrong' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, reason: 'Wrong\u0000charge', idempotencyKey: 'h15-nul-1' }, 'input.reason'],
      [{ ...base, idempotencyKey: 'h15\u0000nul-2' }, 'input.idempotencyKey'],
      [{ ...base, usageRecordId: 'usg\u00001', idempotencyKey: 'h15-nul-3' }, 'input.usageRecordId'],
      [{ ...base, invoiceLineId: 'lin\u00001', idempotencyKey: 'h15-nul-4' }, 'input.invoiceLineId'],
      [{ ...base, invoiceLineId: '', idempotencyKey: 'h15-nul-5' }, 'input.invoiceLineId'],
      [{ ...base, invoiceLineId: '  ', idempotencyKey: 'h15-nul-6' }, 'input.invoiceLineId'],
    ];
    for (const [i, field] of cases) expect(await refusal(cus, OPEN, { i }), JSON.stringify(i)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((await as(AGENT, `query($id: ID!) { invoice(id: $id) { disputes { id } } }`, { id: inv.id })).invoice.disputes).toEqual([]);

    const d = (await as(cus, OPEN, { i: { ...base, idempotencyKey: 'h15-nul-ok' } })).openDispute.dispute;
    expect(d.invoiceLineId).toBeNull();
    for (const decision of ['REJECT', 'ACCEPT']) {
      expect(await refusal(AGENT, DECIDE, { i: { disputeId: d.id, decision, note: 'No\u0000' } }), decision).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.note' });
    }
    expect((await as(AGENT, READ, { id: d.id })).dispute.status).toBe('OPEN');
  });
});

describe('3. a staff hold is staff’s to close', () => {
  it('the customer cannot withdraw a hold staff put on their invoice (disputeInvoice): refused, still held; staff can', async () => {
    const inv = await closedSeptember(h, 'acc_h15_hold', 'cus_h15_hold');
    const cus = customer('cus_h15_hold');
    await as(AGENT, 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id, amount: '10.00', reason: 'Checking the roaming charges' } });
    const held = (await as(cus, `query($id: ID!) { invoice(id: $id) { state amountDisputed { amount } disputes { id status } } }`, { id: inv.id })).invoice;
    expect([held.state, held.amountDisputed.amount, held.disputes.length]).toEqual(['ON_HOLD', '10', 1]);
    const hold = held.disputes[0].id;
    expect(await refusal(cus, WITHDRAW, { i: { disputeId: hold } })).toMatchObject({ code: 'CONFLICT', reason: 'DISPUTE_OPENED_BY_STAFF', field: 'input.disputeId' });
    const after = (await as(AGENT, `query($id: ID!) { invoice(id: $id) { state amountDisputed { amount } disputes { id status } } }`, { id: inv.id })).invoice;
    expect([after.state, after.amountDisputed.amount, after.disputes]).toEqual(['ON_HOLD', '10', [{ id: hold, status: 'OPEN' }]]);
    // The customer's own dispute on the same invoice is theirs to withdraw; staff may take the hold back.
    const own = (await as(cus, OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'Wrong', idempotencyKey: 'h15-hold-own' } })).openDispute.dispute;
    expect((await as(cus, WITHDRAW, { i: { disputeId: own.id } })).withdrawDispute.dispute.status).toBe('WITHDRAWN');
    expect((await as(AGENT, WITHDRAW, { i: { disputeId: hold } })).withdrawDispute.dispute.status).toBe('WITHDRAWN');
  });
});
