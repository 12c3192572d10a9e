// One dispute model (2026-11-27):
// 1. The legacy staff mutation disputeInvoice SET amount_disputed (overwriting the part open Dispute
//    rows hold) while Dispute rows ADD to it, so closing a Dispute could release a staff hold, and a
//    staff call could shrink customers' holds. Now disputeInvoice opens a Dispute (invoice-level,
//    opened by the agent): the hold is always the sum of the open disputes. A second disputeInvoice
//    on the invoice sets the amount of the staff-opened open dispute (as the legacy call set the hold)
//    instead of opening another. Its workflow starts, but neither the auto-assessment nor the final
//    SLA breach accepts it: staff decide what staff opened. On a draft it follows the regenerated draft.
// 2. A staff credit note on a line an open line dispute covers took the line's creditable room: the
//    dispute could no longer be accepted and the customer was later told "rejected" although they had
//    been credited. Now the note takes what it needs of the disputes' room from them: a dispute it
//    covers in full is closed ACCEPTED with the note's id (dispute.resolved), one it covers in part is
//    reduced to what is left, and the hold goes down by the same amount.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeStarter } from '../src/ports/disputes';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';
import { SYSTEM, agent, closedSeptember, customer, disputeCalls, disputeMutations, recordingDunning } from './dispute-support';

let h: Harness;
const { dunning, dunningPokes } = recordingDunning();
const started: string[] = [];
const workflowPokes: string[] = [];
const disputes: DisputeStarter = { start: async (req) => void started.push(req.disputeId), poke: async (disputeId) => void workflowPokes.push(disputeId) };

const AGENT = agent('agent-one');

const D = 'id invoiceId invoiceLineId amount { amount } reason status assessment creditedAmount { amount } creditNoteId decidedBy decisionNote';
const { OPEN, DECIDE, ASSESS, WITHDRAW } = disputeMutations(D);
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id state amountDisputed { amount } } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } invoice { state amountDisputed { amount } } } }';
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state total { amount } amountDue { amount } amountDisputed { amount } amountCredited { amount }
  lines { id kind grossAmount { amount } creditedAmount { amount } } disputes { ${D} } } }`;

const { as, refusal, outbox } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const hold = (invoiceId: string, amount: string, reason = 'Staff review') => as(AGENT, HOLD, { i: { invoiceId, amount, reason } });
const held = (i: any) => ({ state: i.state, amountDisputed: i.amountDisputed.amount, open: i.disputes.filter((d: any) => ['OPEN', 'IN_REVIEW'].includes(d.status)).map((d: any) => d.amount.amount).sort() });

/** An account of customer `cus` with one issued September invoice (POSTPAID_20GB, 35.69; a 7.50 + tax late fee line when asked). */
async function issuedInvoice(acc: string, cus: string, lateFee = false): Promise<any> {
  const inv = await closedSeptember(h, acc, cus, lateFee ? () => h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
    i: { id: `fee_${acc}`, billingAccountId: acc, code: 'GOODWILL_TEST', description: 'Handset insurance', amount: { amount: '7.50', currency: 'EUR' }, occurredAt: '2026-09-15T10:00:00Z' },
  }) : undefined);
  expect(inv.state).toBe('SENT');
  return invoice(inv.id);
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, dunning, disputes });
});
afterAll(async () => h?.svc.close());

describe('1. disputeInvoice opens a Dispute', () => {
  it('the hold is the sum of the open disputes, whoever opened them; a second call sets the staff dispute\'s amount', async () => {
    const inv = await issuedInvoice('acc_one_mix', 'cus_one_mix');
    const c = (await as(customer('cus_one_mix'), OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'Roaming', idempotencyKey: 'mix-1' } })).openDispute.dispute;
    expect((await hold(inv.id, '10.00')).disputeInvoice.invoice).toMatchObject({ state: 'ON_HOLD', amountDisputed: { amount: '13' } });
    let now = await invoice(inv.id);
    expect(held(now), 'the staff hold overwrote the customer\'s').toEqual({ state: 'ON_HOLD', amountDisputed: '13', open: ['10', '3'] });
    const staff = now.disputes.find((d: any) => d.id !== c.id);
    expect(staff).toMatchObject({ invoiceLineId: null, reason: 'Staff review', status: 'OPEN' });
    expect(started, 'its workflow is started').toContain(staff.id);

    // Again with another figure: the staff dispute is set to it (not a second dispute); the same call again changes nothing.
    await hold(inv.id, '8.00', 'Staff review, corrected');
    await hold(inv.id, '8.00', 'Staff review, corrected');
    now = await invoice(inv.id);
    expect(held(now)).toEqual({ state: 'ON_HOLD', amountDisputed: '11', open: ['3', '8'] });
    expect(now.disputes.find((d: any) => d.id === staff.id)).toMatchObject({ amount: { amount: '8' }, status: 'OPEN' });

    // The customer's dispute closing leaves the staff hold; the staff dispute decided releases it.
    await as(customer('cus_one_mix'), WITHDRAW, { i: { disputeId: c.id } });
    expect(held(await invoice(inv.id))).toEqual({ state: 'ON_HOLD', amountDisputed: '8', open: ['8'] });
    await as(AGENT, DECIDE, { i: { disputeId: staff.id, decision: 'REJECT', note: 'Reviewed: the charges are right' } });
    expect(held(await invoice(inv.id))).toEqual({ state: 'SENT', amountDisputed: '0', open: [] });

    // Closed: the next disputeInvoice opens a new one.
    await hold(inv.id, '5.00');
    now = await invoice(inv.id);
    expect(held(now)).toEqual({ state: 'ON_HOLD', amountDisputed: '5', open: ['5'] });
    expect(now.disputes).toHaveLength(3);
  });

  it('keeps the legacy refusals: beyond what is owed, finer than the minor unit', async () => {
    const inv = await issuedInvoice('acc_one_bad', 'cus_one_bad');
    expect(await refusal(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '40.00', reason: 'x' } })).toMatchObject({ reason: 'DISPUTE_EXCEEDS_OUTSTANDING', field: 'input.amount' });
    expect(await refusal(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '5.005', reason: 'x' } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'DISPUTE_AMOUNT_PRECISION' });
    // With a customer's dispute of 30, staff can add at most what is left.
    await as(customer('cus_one_bad'), OPEN, { i: { invoiceId: inv.id, amount: '30.00', reason: 'Roaming', idempotencyKey: 'bad-1' } });
    expect(await refusal(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '10.00', reason: 'x' } })).toMatchObject({ reason: 'DISPUTE_EXCEEDS_UNDISPUTED', field: 'input.amount' });
    expect(held(await invoice(inv.id))).toEqual({ state: 'ON_HOLD', amountDisputed: '30', open: ['30'] });
  });

  it('is not accepted by the auto-assessment nor by the workflow at the final deadline: staff decide it', async () => {
    const inv = await issuedInvoice('acc_one_auto', 'cus_one_auto');
    await hold(inv.id, '2.00'); // goodwill-sized: a customer's would be accepted at once
    const d = (await invoice(inv.id)).disputes[0];
    const assessed = (await as(SYSTEM, ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute;
    expect(assessed).toMatchObject({ status: 'IN_REVIEW', creditNoteId: null });
    expect(assessed.assessment).toMatchObject({ decision: 'REVIEW', autoAcceptRefused: { code: 'DISPUTE_OPENED_BY_STAFF' } });
    expect(await refusal(SYSTEM, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'SLA breached' } })).toMatchObject({ code: 'CONFLICT', reason: 'DISPUTE_OPENED_BY_STAFF' });
    expect((await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Goodwill' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '2' } });
  });

  it('a customer cannot take the key disputeInvoice derives', async () => {
    const inv = await issuedInvoice('acc_one_key', 'cus_one_key');
    expect(await refusal(customer('cus_one_key'), OPEN, { i: { invoiceId: inv.id, amount: '1.00', reason: 'x', idempotencyKey: `disputeInvoice:${inv.id}:1` } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_RESERVED' });
  });

  it('on a draft: the dispute follows the regenerated draft and resolving it releases the draft', async () => {
    await account(h, 'acc_one_draft', { customerId: 'cus_one_draft' });
    await subscribe(h, 'acc_one_draft', 'sub_one_draft', 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [{ chargeId: 'chg_one_draft', billingAccountId: 'acc_one_draft', lineId: 'lin_sub_one_draft', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '100', unit: 'MB', amount: '5.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    await runBillRun(h, '2026-10-01', { autoIssue: false });
    const [draft] = (await invoicesOf(h, 'acc_one_draft')).filter((i: any) => i.state !== 'VOIDED');
    expect(draft.state).toBe('NEW');
    expect((await hold(draft.id, '5.00')).disputeInvoice.invoice).toMatchObject({ state: 'ON_HOLD', amountDisputed: { amount: '5' } });
    const [d] = (await invoice(draft.id)).disputes;
    expect(d).toMatchObject({ status: 'OPEN', amount: { amount: '5' } });

    const regen = (await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    const fresh = await invoice(regen.id);
    expect(held(fresh)).toEqual({ state: 'ON_HOLD', amountDisputed: '5', open: ['5'] });
    expect(fresh.disputes.map((x: any) => x.id), 'the dispute follows the draft').toEqual([d.id]);
    expect((await invoice(draft.id)).disputes).toEqual([]);
    // A second disputeInvoice on the new draft sets that dispute.
    await hold(regen.id, '4.00');
    expect(held(await invoice(regen.id))).toEqual({ state: 'ON_HOLD', amountDisputed: '4', open: ['4'] });

    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: regen.id } });
    expect(held(await invoice(regen.id))).toEqual({ state: 'NEW', amountDisputed: '0', open: [] });
  });
});

describe('2. a staff credit note takes the disputes\' room it needs from them', () => {
  it('covering a line dispute in full closes it ACCEPTED with the note, releases the hold and says so', async () => {
    const inv = await issuedInvoice('acc_one_cn_full', 'cus_one_cn_full', true);
    const fee = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
    expect(fee.grossAmount.amount).toBe('8.92');
    const d = (await as(customer('cus_one_cn_full'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: '8.92', reason: 'Never ordered', idempotencyKey: 'cn-full' } })).openDispute.dispute;
    dunningPokes.length = 0;
    workflowPokes.length = 0;
    const args = { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Insurance removed', lines: [{ invoiceLineId: fee.id, amount: '8.92' }], idempotencyKey: 'cn-full-note' } };
    const r = (await as(AGENT, NOTE, args)).issueCreditNote;
    expect(r.invoice, 'released: credited in part, as after any credit note').toEqual({ state: 'PARTIALLY_PAID', amountDisputed: { amount: '0' } });
    const after = (await invoice(inv.id)).disputes.find((x: any) => x.id === d.id);
    expect(after).toMatchObject({ status: 'ACCEPTED', creditNoteId: r.creditNote.id, creditedAmount: { amount: '8.92' }, amount: { amount: '8.92' } });
    expect(after.decisionNote).toMatch(/credit note CN-/);
    const resolved = (await outbox('billing.invoicing.dispute.resolved')).filter((e: any) => e.data.disputeId === d.id);
    expect(resolved.map((e: any) => [e.data.status, e.data.creditNoteId, e.data.creditedAmount])).toEqual([['ACCEPTED', r.creditNote.id, '8.92']]);
    expect(workflowPokes).toEqual([d.id]);

    // The same note again (same key): the same answer, nothing more.
    expect((await as(AGENT, NOTE, args)).issueCreditNote.creditNote.id).toBe(r.creditNote.id);
    expect((await outbox('billing.invoicing.dispute.resolved')).filter((e: any) => e.data.disputeId === d.id)).toHaveLength(1);
    expect((await invoice(inv.id)).amountCredited.amount).toBe('8.92');
  });

  it('covering part of it reduces the dispute to what is left, which can still be accepted', async () => {
    const inv = await issuedInvoice('acc_one_cn_part', 'cus_one_cn_part', true);
    const fee = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
    const d = (await as(customer('cus_one_cn_part'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: '6.00', reason: 'Too much', idempotencyKey: 'cn-part' } })).openDispute.dispute;
    // 8.92 - 5.00 = 3.92 left on the line: the note takes 2.08 of the dispute's 6.00.
    await as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Partial goodwill', lines: [{ invoiceLineId: fee.id, amount: '5.00' }], idempotencyKey: 'cn-part-note' } });
    expect(held(await invoice(inv.id))).toEqual({ state: 'ON_HOLD', amountDisputed: '3.92', open: ['3.92'] });
    expect((await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Rest waived' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '3.92' } });
    expect(held(await invoice(inv.id))).toMatchObject({ state: 'PARTIALLY_PAID', amountDisputed: '0' });
  });

  it('a note that leaves the line room for the dispute does not touch it; an invoice dispute gives up only what no longer fits', async () => {
    const inv = await issuedInvoice('acc_one_cn_inv', 'cus_one_cn_inv', true);
    const fee = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
    const total = inv.total.amount; // 35.69 + 8.92 = 44.61
    expect(total).toBe('44.61');
    await as(customer('cus_one_cn_inv'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: '2.00', reason: 'Fee', idempotencyKey: 'cn-inv-line' } });
    await as(customer('cus_one_cn_inv'), OPEN, { i: { invoiceId: inv.id, amount: '40.00', reason: 'All of it', idempotencyKey: 'cn-inv-all' } });
    await as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Fee reduced', lines: [{ invoiceLineId: fee.id, amount: '1.00' }], idempotencyKey: 'cn-inv-note-1' } });
    // 44.61 - 1.00 = 43.61 creditable; 42.00 disputed: nothing taken.
    expect(held(await invoice(inv.id))).toEqual({ state: 'ON_HOLD', amountDisputed: '42', open: ['2', '40'] });
    await as(AGENT, NOTE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Fee waived', lines: [{ invoiceLineId: fee.id, amount: '7.92' }], idempotencyKey: 'cn-inv-note-2' } });
    // The line is credited in full: its 2.00 dispute closes ACCEPTED; 35.69 creditable for the invoice dispute of 40.00: 35.69 left.
    const now = await invoice(inv.id);
    expect(held(now)).toEqual({ state: 'ON_HOLD', amountDisputed: '35.69', open: ['35.69'] });
    expect(now.disputes.find((x: any) => x.invoiceLineId === fee.id)).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '2' } });
  });
});
