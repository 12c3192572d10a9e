// Dispute resolution, invoicing's side (notes/dispute-contract.md): a Dispute on an issued invoice, a
// line of it or a rated usage record holds the invoice for its amount, is auto-assessed by the rules
// in catalog/disputes/auto-assessment.json, and ends ACCEPTED (a credit note keyed `dispute:<id>`),
// REJECTED or WITHDRAWN, taking its amount off the hold. The workflow is started and poked through
// the DisputeStarter port (a recording fake here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeStarter } from '../src/ports/disputes';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, lateFee, recordingDunning } from './dispute-support';

let h: Harness;
const { dunning, dunningPokes } = recordingDunning();
const started: string[] = [];
const workflowPokes: string[] = [];
let temporalDown = false;
const disputes: DisputeStarter = {
  start: async (req) => {
    if (temporalDown) throw new Error('temporal is down');
    started.push(req.disputeId);
  },
  // Every run still runs here (a run that ended: disputes-usage-record-and-restart.test.ts).
  running: async () => true,
  poke: async (disputeId) => void workflowPokes.push(disputeId),
};

const AGENT = agent('agent-ana');

const D = `id invoiceId billingAccountId invoiceLineId usageRecordId amount { amount currency } reason status escalationLevel assessment
  creditedAmount { amount } creditNoteId decidedBy decisionNote reviewDueAt createdAt decidedAt`;
const { OPEN, DECIDE, ASSESS, WITHDRAW } = disputeMutations(D);
const ESCALATE = `mutation($i: EscalateDisputeInput!) { escalateDispute(input: $i) { dispute { ${D} } } }`;
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state amountDue { amount } amountDisputed { amount } amountCredited { amount } creditNotes { id total { amount } }
  lines { id kind grossAmount { amount } creditedAmount { amount } } disputes { id status } } }`;

const { as, refusal, outbox } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const markDunned = (id: string) => h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = now(), dunning_runs = 1 where id = ?`, [id]);

/** An account of customer `cus` with one issued September invoice (POSTPAID_20GB, plus a late fee one-off when asked). */
async function issuedInvoice(acc: string, cus: string, withLateFee = false): Promise<any> {
  const inv = await closedSeptember(h, acc, cus, withLateFee ? () => lateFee(h, acc) : undefined);
  expect(inv.state).toBe('SENT');
  return invoice(inv.id);
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes });
});
afterAll(async () => h?.svc.close());

describe('opening a dispute', () => {
  it('a customer opens one on their own issued invoice: held for its amount, dunning poked, workflow started; same key answers the same dispute', async () => {
    const inv = await issuedInvoice('acc_dsp_open', 'cus_dsp_open');
    await markDunned(inv.id);
    dunningPokes.length = 0;
    // (A usage record must be one the invoice billed: disputes-usage-record-and-restart.test.ts.)
    const input = { invoiceId: inv.id, amount: '12.00', reason: 'Roaming charges I did not make', idempotencyKey: 'open-1' };
    const d = (await as(customer('cus_dsp_open'), OPEN, { i: input })).openDispute.dispute;
    expect(d).toMatchObject({ invoiceId: inv.id, billingAccountId: 'acc_dsp_open', usageRecordId: null, invoiceLineId: null, amount: { amount: '12', currency: 'EUR' }, status: 'OPEN', escalationLevel: 0, assessment: null });
    const after = await invoice(inv.id);
    expect([after.state, after.amountDisputed.amount, after.disputes]).toEqual(['ON_HOLD', '12', [{ id: d.id, status: 'OPEN' }]]);
    expect(dunningPokes).toEqual([[inv.id, 'disputeChanged']]);
    expect(started).toContain(d.id);
    expect((await outbox('billing.invoicing.dispute.opened')).map((e: any) => e.data.disputeId)).toContain(d.id);

    // Retried: the same dispute, nothing added.
    const again = (await as(customer('cus_dsp_open'), OPEN, { i: { ...input, amount: '12.0' } })).openDispute.dispute;
    expect(again.id).toBe(d.id);
    expect((await invoice(inv.id)).amountDisputed.amount).toBe('12');
    // Same key, other input.
    expect(await refusal(customer('cus_dsp_open'), OPEN, { i: { ...input, amount: '13.00' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });

    // A second dispute adds to the hold; at most what is still owed and undisputed.
    const second = (await as(AGENT, OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'Double charge', idempotencyKey: 'open-2' } })).openDispute.dispute;
    expect((await invoice(inv.id)).amountDisputed.amount).toBe('15');
    const left = (Number(after.amountDue.amount) * 100 - 1500) / 100; // only for the message below
    const tooMuch = await refusal(customer('cus_dsp_open'), OPEN, { i: { invoiceId: inv.id, amount: after.amountDue.amount, reason: 'All of it', idempotencyKey: 'open-3' } });
    expect(tooMuch, `only ${left} is undisputed`).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });

    // The dispute and the list, as the customer.
    expect((await as(customer('cus_dsp_open'), `query($id: ID!) { dispute(id: $id) { id status } }`, { id: d.id })).dispute).toEqual({ id: d.id, status: 'OPEN' });
    const list = (await as(customer('cus_dsp_open'), `query { disputes(filter: { status: OPEN }) { edges { node { id } cursor } pageInfo { hasNextPage } } }`, {})).disputes;
    expect(list.edges.map((e: any) => e.node.id).sort()).toEqual([d.id, second.id].sort());
  });

  it("answers another customer's invoice as an unknown one (NOT_FOUND), refuses bad amounts and a line not on the invoice (BAD_USER_INPUT naming the field)", async () => {
    const inv = await issuedInvoice('acc_dsp_bad', 'cus_dsp_bad');
    const other = await issuedInvoice('acc_dsp_other', 'cus_dsp_other');
    const base = { invoiceId: inv.id, amount: '5.00', reason: 'Wrong', idempotencyKey: 'bad-1' };
    expect(await refusal(customer('cus_dsp_other'), OPEN, { i: base })).toMatchObject({ code: 'NOT_FOUND', reason: 'INVOICE_NOT_FOUND', field: 'input.invoiceId' });
    expect(await refusal({ role: 'ANONYMOUS', subject: 'anonymous', scopes: [] }, OPEN, { i: base })).toMatchObject({ code: 'UNAUTHENTICATED' });
    for (const amount of ['0', '-1.00', '5.005']) {
      expect(await refusal(customer('cus_dsp_bad'), OPEN, { i: { ...base, amount, idempotencyKey: `bad-${amount}` } }), amount).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    }
    expect(await refusal(customer('cus_dsp_bad'), OPEN, { i: { ...base, invoiceLineId: other.lines[0].id, idempotencyKey: 'bad-line' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.invoiceLineId' });
    // A line is disputed for at most what it still has undisputed.
    const line = inv.lines[0];
    const over = (Number(line.grossAmount.amount) + 1).toFixed(2);
    expect(await refusal(customer('cus_dsp_bad'), OPEN, { i: { ...base, invoiceLineId: line.id, amount: over, idempotencyKey: 'bad-line-over' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    expect(await refusal(customer('cus_dsp_bad'), OPEN, { i: { ...base, reason: '  ', idempotencyKey: 'bad-reason' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reason' });
    const after = await invoice(inv.id);
    expect([after.state, after.amountDisputed.amount, after.disputes]).toEqual(['SENT', '0', []]);
  });
});

describe('auto-assessment (catalog/disputes/auto-assessment.json)', () => {
  it('waives a first late fee: ACCEPTED by the rule, credit note, the invoice owes less and is released', async () => {
    const inv = await issuedInvoice('acc_dsp_fee', 'cus_dsp_fee', true);
    const fee = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
    expect(Number(fee.grossAmount.amount)).toBeGreaterThan(5); // above the goodwill limit: only the late-fee rule can accept it
    const d = (await as(customer('cus_dsp_fee'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: fee.grossAmount.amount, reason: 'Paid on time', idempotencyKey: 'fee-1' } })).openDispute.dispute;
    expect(await refusal(customer('cus_dsp_fee'), ASSESS, { i: { disputeId: d.id } })).toMatchObject({ code: 'FORBIDDEN' });
    const assessed = (await h.gql<any>(ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute;
    expect(assessed).toMatchObject({ status: 'ACCEPTED', decidedBy: 'auto:first-late-fee-waived', creditedAmount: { amount: fee.grossAmount.amount } });
    expect(assessed.assessment).toMatchObject({ decision: 'ACCEPT', rule: 'first-late-fee-waived', facts: { target: 'LINE', lineKind: 'LATE_FEE', amountMinor: Math.round(Number(fee.grossAmount.amount) * 100), acceptedDisputesLast365Days: 0 } });
    expect(Number.isInteger(assessed.assessment.facts.disputedBasisPoints)).toBe(true);
    const after = await invoice(inv.id);
    expect(after.state, 'released; credited in part, as after any credit note').toBe('PARTIALLY_PAID');
    expect(after.amountDisputed.amount).toBe('0');
    expect(after.amountDue.amount).toBe((Number(inv.amountDue.amount) - Number(fee.grossAmount.amount)).toFixed(2));
    expect(after.creditNotes.map((c: any) => c.id)).toEqual([assessed.creditNoteId]);
    expect(after.lines.find((l: any) => l.id === fee.id).creditedAmount.amount).toBe(fee.grossAmount.amount);
    // Assessing again answers the stored result.
    expect((await h.gql<any>(ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditNoteId: assessed.creditNoteId });
    expect((await invoice(inv.id)).creditNotes).toHaveLength(1);
    expect((await outbox('billing.invoicing.dispute.resolved')).some((e: any) => e.data.disputeId === d.id && e.data.status === 'ACCEPTED')).toBe(true);
  });

  it('accepts small goodwill amounts while the account had at most one accepted dispute in 365 days, then sends them to review (48 h)', async () => {
    const inv = await issuedInvoice('acc_dsp_gw', 'cus_dsp_gw');
    const open = async (amount: string, key: string) => (await as(customer('cus_dsp_gw'), OPEN, { i: { invoiceId: inv.id, amount, reason: 'Goodwill', idempotencyKey: key } })).openDispute.dispute;
    const assess = async (id: string) => (await h.gql<any>(ASSESS, { i: { disputeId: id } })).assessDispute.dispute;
    const first = await assess((await open('5.00', 'gw-1')).id);
    expect(first).toMatchObject({ status: 'ACCEPTED', decidedBy: 'auto:small-goodwill', creditedAmount: { amount: '5' } });
    expect(first.assessment.facts).toMatchObject({ target: 'INVOICE', lineKind: null, amountMinor: 500, acceptedDisputesLast365Days: 0 });
    const second = await assess((await open('1.00', 'gw-2')).id);
    expect(second).toMatchObject({ status: 'ACCEPTED', decidedBy: 'auto:small-goodwill' });
    h.clock.set('2026-10-02T08:00:00Z');
    const third = await assess((await open('1.00', 'gw-3')).id);
    expect(third).toMatchObject({ status: 'IN_REVIEW', decidedBy: null, creditNoteId: null, reviewDueAt: '2026-10-04T08:00:00.000Z' });
    expect(third.assessment).toMatchObject({ decision: 'REVIEW', rule: null, facts: { acceptedDisputesLast365Days: 2 } });
    expect((await invoice(inv.id))).toMatchObject({ state: 'ON_HOLD', amountDisputed: { amount: '1' } });
    // A large amount goes to review too.
    const big = await assess((await open('20.00', 'gw-4')).id);
    expect(big.status).toBe('IN_REVIEW');
    expect((await invoice(inv.id)).amountDisputed.amount).toBe('21');
    h.clock.set('2026-10-01T08:00:00Z');
  });
});

describe('deciding', () => {
  it('ACCEPT for part of the amount credits that part, REJECT credits nothing; both release the hold and poke dunning and the workflow', async () => {
    const inv = await issuedInvoice('acc_dsp_dec', 'cus_dsp_dec');
    await markDunned(inv.id);
    const a = (await as(customer('cus_dsp_dec'), OPEN, { i: { invoiceId: inv.id, amount: '10.00', reason: 'Overcharged', idempotencyKey: 'dec-1' } })).openDispute.dispute;
    const b = (await as(customer('cus_dsp_dec'), OPEN, { i: { invoiceId: inv.id, amount: '6.00', reason: 'Overcharged again', idempotencyKey: 'dec-2' } })).openDispute.dispute;
    expect((await h.gql<any>(ASSESS, { i: { disputeId: a.id } })).assessDispute.dispute.status).toBe('IN_REVIEW');
    expect(await refusal(customer('cus_dsp_dec'), DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', note: 'mine' } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', amount: '10.01', note: 'too much' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });

    dunningPokes.length = 0;
    workflowPokes.length = 0;
    const accepted = (await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', amount: '4.00', note: 'Half of the roaming day was ours' } })).decideDispute.dispute;
    expect(accepted).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '4' }, decidedBy: 'agent-ana', decisionNote: 'Half of the roaming day was ours', decidedAt: '2026-10-01T08:00:00.000Z' });
    let after = await invoice(inv.id);
    expect([after.state, after.amountDisputed.amount, after.amountDue.amount]).toEqual(['ON_HOLD', '6', (Number(inv.amountDue.amount) - 4).toFixed(2)]);
    expect(after.creditNotes).toEqual([{ id: accepted.creditNoteId, total: { amount: '4' } }]);
    expect(dunningPokes).toEqual([[inv.id, 'disputeChanged']]);
    expect(workflowPokes).toEqual([a.id]);

    const rejected = (await as(AGENT, DECIDE, { i: { disputeId: b.id, decision: 'REJECT', note: 'Charges are right' } })).decideDispute.dispute;
    expect(rejected).toMatchObject({ status: 'REJECTED', creditedAmount: null, creditNoteId: null });
    after = await invoice(inv.id);
    expect([after.state, after.amountDisputed.amount, after.amountDue.amount, after.creditNotes.length]).toEqual(['PARTIALLY_PAID', '0', (Number(inv.amountDue.amount) - 4).toFixed(2), 1]);
    expect(workflowPokes).toEqual([a.id, b.id]);
  });

  it('a decision retried, or sent twice at once, gives one credit note; another decision is a CONFLICT', async () => {
    const inv = await issuedInvoice('acc_dsp_twice', 'cus_dsp_twice');
    const d = (await as(customer('cus_dsp_twice'), OPEN, { i: { invoiceId: inv.id, amount: '9.00', reason: 'Twice', idempotencyKey: 'twice-1' } })).openDispute.dispute;
    const input = { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Upheld' } };
    const [x, y] = await Promise.all([as(AGENT, DECIDE, input), as(AGENT, DECIDE, input)]);
    expect(x.decideDispute.dispute.creditNoteId).toBeTruthy();
    expect(y.decideDispute.dispute.creditNoteId).toBe(x.decideDispute.dispute.creditNoteId);
    const again = (await as(AGENT, DECIDE, input)).decideDispute.dispute;
    expect(again).toMatchObject({ status: 'ACCEPTED', creditNoteId: x.decideDispute.dispute.creditNoteId, creditedAmount: { amount: '9' } });
    const after = await invoice(inv.id);
    expect(after.creditNotes).toHaveLength(1);
    expect(after.amountDue.amount).toBe((Number(inv.amountDue.amount) - 9).toFixed(2));
    expect(await refusal(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'Changed my mind' } })).toMatchObject({ code: 'CONFLICT', reason: 'DISPUTE_ALREADY_DECIDED' });
    const resolved = (await outbox('billing.invoicing.dispute.resolved')).filter((e: any) => e.data.disputeId === d.id);
    expect(resolved).toHaveLength(1);
  });
});

describe('withdrawing, escalating, resolveDispute', () => {
  it('the customer withdraws: released, nothing credited; withdrawing again answers it; deciding it is a CONFLICT', async () => {
    const inv = await issuedInvoice('acc_dsp_wd', 'cus_dsp_wd');
    const d = (await as(customer('cus_dsp_wd'), OPEN, { i: { invoiceId: inv.id, amount: '2.00', reason: 'Oops', idempotencyKey: 'wd-1' } })).openDispute.dispute;
    expect(await refusal(customer('cus_dsp_other'), WITHDRAW, { i: { disputeId: d.id } })).toMatchObject({ code: 'NOT_FOUND', reason: 'DISPUTE_NOT_FOUND', field: 'input.disputeId' }); // as an unknown dispute
    workflowPokes.length = 0;
    const w = (await as(customer('cus_dsp_wd'), WITHDRAW, { i: { disputeId: d.id } })).withdrawDispute.dispute;
    expect(w).toMatchObject({ status: 'WITHDRAWN', creditNoteId: null });
    expect(workflowPokes).toEqual([d.id]);
    expect((await as(customer('cus_dsp_wd'), WITHDRAW, { i: { disputeId: d.id } })).withdrawDispute.dispute.status).toBe('WITHDRAWN');
    const after = await invoice(inv.id);
    expect([after.state, after.amountDisputed.amount, after.creditNotes]).toEqual(['SENT', '0', []]);
    expect(await refusal(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'late' } })).toMatchObject({ code: 'CONFLICT', reason: 'DISPUTE_ALREADY_DECIDED' });
    // Assessing a withdrawn dispute answers it as it is.
    expect((await h.gql<any>(ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute.status).toBe('WITHDRAWN');
  });

  it('escalation raises the level once per level, never lowers it, and leaves a closed dispute alone', async () => {
    const inv = await issuedInvoice('acc_dsp_esc', 'cus_dsp_esc');
    const d = (await as(customer('cus_dsp_esc'), OPEN, { i: { invoiceId: inv.id, amount: '30.00', reason: 'Escalate me', idempotencyKey: 'esc-1' } })).openDispute.dispute;
    expect(await refusal(AGENT, ESCALATE, { i: { disputeId: d.id, level: 1 } })).toMatchObject({ code: 'FORBIDDEN' });
    h.clock.set('2026-10-05T10:00:00Z');
    // Due again after the policy's escalation SLA (24 h by default), as the workflow acts.
    expect((await h.gql<any>(ESCALATE, { i: { disputeId: d.id, level: 1 } })).escalateDispute.dispute).toMatchObject({ escalationLevel: 1, reviewDueAt: '2026-10-06T10:00:00.000Z' });
    expect((await h.gql<any>(ESCALATE, { i: { disputeId: d.id, level: 1 } })).escalateDispute.dispute.escalationLevel).toBe(1);
    expect((await h.gql<any>(ESCALATE, { i: { disputeId: d.id, level: 0 } })).escalateDispute.dispute.escalationLevel).toBe(1);
    expect((await outbox('billing.invoicing.dispute.escalated')).filter((e: any) => e.data.disputeId === d.id).map((e: any) => e.data.escalationLevel)).toEqual([1]);
    expect((await h.gql<any>(ESCALATE, { i: { disputeId: d.id, level: 2 } })).escalateDispute.dispute.escalationLevel).toBe(2);
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'No' } });
    expect((await h.gql<any>(ESCALATE, { i: { disputeId: d.id, level: 3 } })).escalateDispute.dispute).toMatchObject({ status: 'REJECTED', escalationLevel: 2 });
  });

  it('resolveDispute still works on a disputeInvoice hold and closes the invoice\'s open disputes', async () => {
    const inv = await issuedInvoice('acc_dsp_res', 'cus_dsp_res');
    const a = (await as(customer('cus_dsp_res'), OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'One', idempotencyKey: 'res-1' } })).openDispute.dispute;
    const b = (await as(customer('cus_dsp_res'), OPEN, { i: { invoiceId: inv.id, amount: '6.00', reason: 'Two', idempotencyKey: 'res-2' } })).openDispute.dispute;
    await h.gql(ASSESS, { i: { disputeId: b.id } });
    workflowPokes.length = 0;
    const r = await h.gql<any>('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state amountDisputed { amount } } } }', { i: { invoiceId: inv.id } });
    expect(r.resolveDispute.invoice).toEqual({ state: 'SENT', amountDisputed: { amount: '0' } });
    const closed = (await invoice(inv.id)).disputes;
    expect(closed.map((x: any) => x.status)).toEqual(['REJECTED', 'REJECTED']);
    const one = (await h.gql<any>(`query($id: ID!) { dispute(id: $id) { ${D} } }`, { id: a.id })).dispute;
    expect(one.decisionNote).not.toMatch(/resolveDispute/); // written for the customer (disputes-followups.test.ts)
    expect(one.decidedBy).toMatch(/^resolveDispute/);
    expect(workflowPokes.sort()).toEqual([a.id, b.id].sort());
  });
});

describe('workflow starts', () => {
  it('a start that failed is made by the due-date job pass', async () => {
    const inv = await issuedInvoice('acc_dsp_start', 'cus_dsp_start');
    temporalDown = true;
    const d = (await as(customer('cus_dsp_start'), OPEN, { i: { invoiceId: inv.id, amount: '2.00', reason: 'Start me', idempotencyKey: 'start-1' } })).openDispute.dispute;
    expect(started).not.toContain(d.id);
    temporalDown = false;
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(started.filter((x) => x === d.id)).toEqual([d.id]);
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(started.filter((x) => x === d.id)).toEqual([d.id]);
  });
});
