// An accepted dispute is told to the customer once (services/subscribers, dispute-credit-note-message.test.ts):
// the dispute.resolved message says what its credit note did, and the credit note a dispute's acceptance
// issued is not announced apart. So the two events are linked (added 2027-01-31, optional for old events):
// - creditnote.created names the dispute whose acceptance issued it (`disputeId`; null for any other note,
//   also one that covered a dispute it was not issued for);
// - dispute.resolved carries that note (`creditNote`: its number, what of it became account credit, what
//   the invoice then owes, once the dispute's hold is down, and by when).
// Before, neither event named the other's facts: the customer got DISPUTE_ACCEPTED and CREDIT_NOTE_ISSUED.
// Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const { as, db, outbox } = disputeCalls(() => h);
const AGENT = agent('agent-link');
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-link', scopes: [] };
const { OPEN, DECIDE } = disputeMutations('id status');
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id number total { amount } lines { id grossAmount { amount } } } }';

const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const dueDateOf = async (id: string) => new Date(((await db().execute('select due_date from invoice where id = ?', [id])) as any[])[0].due_date).toISOString();
const noteOf = async (id: string) => ((await db().execute('select number from credit_note where id = ?', [id])) as any[])[0].number as string;
const resolvedOf = async (disputeId: string) => (await outbox('billing.invoicing.dispute.resolved')).find((e: any) => e.data.disputeId === disputeId).data;
const noteEventOf = async (creditNoteId: string) => (await outbox('billing.invoicing.creditnote.created')).find((e: any) => e.data.creditNoteId === creditNoteId).data;

async function disputed(acc: string, amount: string): Promise<{ inv: any; disputeId: string; c: Caller }> {
  const inv = await invoice((await closedSeptember(h, acc, `cus_${acc}`)).id);
  const c = customer(`cus_${acc}`);
  const d = (await as(c, OPEN, { i: { invoiceId: inv.id, amount, reason: 'Roaming I did not use', idempotencyKey: `${acc}-open` } })).openDispute.dispute;
  return { inv, disputeId: d.id, c };
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('an accepted dispute and its credit note name each other', () => {
  it('accepted on an unpaid invoice: the note names the dispute; dispute.resolved carries the note and what the invoice then owes', async () => {
    const { inv, disputeId } = await disputed('acc_link_open', '10.00');
    expect(inv.total.amount).toBe('35.69');
    await as(AGENT, DECIDE, { i: { disputeId, decision: 'ACCEPT', note: 'Roaming was billed in error' } });
    const resolved = await resolvedOf(disputeId);
    expect(await noteEventOf(resolved.creditNoteId)).toMatchObject({ disputeId, cause: 'DISPUTE_ACCEPTED', total: '10.00' });
    expect(resolved.creditNote).toEqual({ number: await noteOf(resolved.creditNoteId), creditAmount: '0.00', amountDue: '25.69', dueDate: await dueDateOf(inv.id) });
  });

  it('partly accepted: what the invoice owes once the rest left the hold; accepted on a paid invoice: all of it account credit, nothing due', async () => {
    const part = await disputed('acc_link_part', '10.00');
    await as(AGENT, DECIDE, { i: { disputeId: part.disputeId, decision: 'ACCEPT', amount: '4.00', note: 'Only the surcharge was wrong' } });
    expect((await resolvedOf(part.disputeId)).creditNote).toMatchObject({ creditAmount: '0.00', amountDue: '31.69' });

    const paid = await disputed('acc_link_paid', '10.00');
    await as(ADMIN, PAY, { i: { invoiceId: paid.inv.id, channel: 'BANK_TRANSFER', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'link-paid-pay' } });
    await as(AGENT, DECIDE, { i: { disputeId: paid.disputeId, decision: 'ACCEPT', note: 'Roaming was billed in error' } });
    expect((await resolvedOf(paid.disputeId)).creditNote).toMatchObject({ creditAmount: '10.00', amountDue: '0.00' });
  });

  it("a staff note that covers a dispute is not that dispute's note: neither event links them (each is told as it is)", async () => {
    const { inv, disputeId } = await disputed('acc_link_staff', '35.69');
    const id = (await as(ADMIN, ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Whole bill waived', lines: inv.lines.map((l: any) => ({ invoiceLineId: l.id, amount: l.grossAmount.amount })), idempotencyKey: 'link-staff' } })).issueCreditNote.creditNote.id;
    const resolved = await resolvedOf(disputeId);
    expect(resolved).toMatchObject({ status: 'ACCEPTED', creditNoteId: id });
    expect(resolved.creditNote ?? null).toBeNull();
    expect((await noteEventOf(id)).disputeId ?? null).toBeNull();
  });
});
