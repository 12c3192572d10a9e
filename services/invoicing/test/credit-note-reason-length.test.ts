// A credit note's reason is kept on its row (credit_note.reason, varchar(300)). issueCreditNote checked only that
// there was one: a longer reason (or one holding a NUL, which PostgreSQL text cannot hold) reached the insert and
// failed there, INTERNAL_SERVER_ERROR for staff instead of a refusal naming input.reason. An agent above the approval
// limit was worse off: asking runs the note's own checks (prepareCreditNote), which passed, so the request was stored
// PENDING; every approval then failed on the same insert (a database error keeps a request PENDING), and it waited as
// work no supervisor could ever carry out. Now the note refuses such a reason before anything is written (BAD_USER_INPUT
// on input.reason), so the agent is refused at once as staff are, and nothing is stored. Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const ANN = agent('agent-ann-reason');
const SUE: Caller = { role: 'AGENT', subject: 'super-sue-reason', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam-reason', scopes: [] };

const AR = 'id status failureCode';
const ISSUE = `mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } approvalRequest { ${AR} } } }`;
const APPROVE = `mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { ${AR} } creditNote { id } } }`;
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id lines { id } amountCredited { amount } creditNotes { id } } }';

const { as, refusal, db } = disputeCalls(() => h);
const note = (invoiceId: string, line: string, amount: string, key: string, reason: string) => ({ i: { invoiceId, kind: 'CREDIT', reason, lines: [{ invoiceLineId: line, amount }], idempotencyKey: key } });
const requestsOf = async (subjectId: string) => (await db().execute('select id, status from approval_request where subject_id = ?', [subjectId])) as { id: string; status: string }[];

async function issued(acc: string) {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  expect(inv.state).toBe('SENT');
  return (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
}

describe('a credit note reason the row cannot hold', () => {
  it('staff: more than 300 characters is BAD_USER_INPUT CREDIT_NOTE_REASON_TOO_LONG on input.reason, nothing written; 300 (multi-byte) is taken', async () => {
    const inv = await issued('acc_cnr_staff');
    const got = await refusal(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', 'cnr-staff-long', 'x'.repeat(301)));
    expect(got, 'a refusal naming the field, not a database error').toEqual({ code: 'BAD_USER_INPUT', reason: 'CREDIT_NOTE_REASON_TOO_LONG', field: 'input.reason' });
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice).toMatchObject({ amountCredited: { amount: '0' }, creditNotes: [] });
    // 300 characters are what the column holds, counted as characters (each € is three bytes).
    const ok = await as(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', 'cnr-staff-300', '€'.repeat(300)));
    expect(ok.issueCreditNote.creditNote.total.amount).toBe('3');
  });

  it('staff: a NUL is BAD_USER_INPUT CREDIT_NOTE_REASON_INVALID on input.reason', async () => {
    const inv = await issued('acc_cnr_nul');
    const got = await refusal(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', 'cnr-nul', 'Outage\u0000 goodwill'));
    expect(got).toEqual({ code: 'BAD_USER_INPUT', reason: 'CREDIT_NOTE_REASON_INVALID', field: 'input.reason' });
  });

  it('an agent above the limit is refused at once, as staff are: no request left PENDING that no approval can carry out', async () => {
    const inv = await issued('acc_cnr_agent');
    const vars = note(inv.id, inv.lines[0].id, '8.00', 'cnr-agent', 'y'.repeat(400));
    const got = await refusal(ANN, ISSUE, vars).catch(async (error: Error) => {
      // The old code stored a PENDING request: show what approving it does.
      const [pending] = await requestsOf(inv.id);
      const approve = pending ? await refusal(SUE, APPROVE, { i: { id: pending.id } }).catch((e: Error) => e.message) : null;
      return { stored: await requestsOf(inv.id), approve, error: error.message };
    });
    expect(got, 'refused at once, as the note itself is').toEqual({ code: 'BAD_USER_INPUT', reason: 'CREDIT_NOTE_REASON_TOO_LONG', field: 'input.reason' });
    expect(await requestsOf(inv.id), 'no approval request stored').toEqual([]);
  });
});

// The same for the note's idempotency key (credit_note.idempotency_key holds 200 characters, approval_request.request_key
// 240): a longer one failed the note's insert (INTERNAL), and an agent's request under a key of 201..240 characters was
// stored PENDING and then failed every approval. Refused now as refundPayment refuses it (IDEMPOTENCY_KEY_INVALID).
describe('a credit note key the row cannot hold', () => {
  it('staff: a key over 200 characters is BAD_USER_INPUT IDEMPOTENCY_KEY_INVALID on input.idempotencyKey, nothing written', async () => {
    const inv = await issued('acc_cnk_staff');
    const got = await refusal(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', 'k'.repeat(201), 'Outage goodwill'));
    expect(got).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice).toMatchObject({ amountCredited: { amount: '0' }, creditNotes: [] });
    expect((await as(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', 'k'.repeat(200), 'Outage goodwill'))).issueCreditNote.creditNote.total.amount).toBe('3');
  });

  it('an agent above the limit with a 220-character key is refused at once, no request stored', async () => {
    const inv = await issued('acc_cnk_agent');
    const got = await refusal(ANN, ISSUE, note(inv.id, inv.lines[0].id, '8.00', 'a'.repeat(220), 'Outage goodwill')).catch(async (error: Error) => ({ stored: await requestsOf(inv.id), error: error.message }));
    expect(got).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect(await requestsOf(inv.id), 'no approval request stored').toEqual([]);
  });

  // An empty key ("") passed both checks (only the upper bound was checked, and gateCreditNote let a key that is not
  // there through): staff's note was issued under "" (the account's next note keyed "" replayed it or was
  // IDEMPOTENCY_KEY_REUSED), and an agent above the limit was not asked for approval at all, the note issued at once.
  // Refused now as recordPayment and refundPayment refuse it (IDEMPOTENCY_KEY_MISSING).
  it('an empty key is BAD_USER_INPUT IDEMPOTENCY_KEY_MISSING on input.idempotencyKey, for staff and an agent above the limit, nothing written', async () => {
    const missing = { code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_MISSING', field: 'input.idempotencyKey' };
    const inv = await issued('acc_cnk_empty');
    const other = await issued('acc_cnk_empty_agent');
    const staff = await refusal(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', '', 'Outage goodwill')).catch((error: Error) => error.message);
    const agentAsks = await refusal(ANN, ISSUE, note(other.id, other.lines[0].id, '8.00', '', 'Outage goodwill')).catch((error: Error) => error.message);
    const credited = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice.amountCredited.amount;
    expect({ staff, agentAsks, credited: [await credited(inv.id), await credited(other.id)], requests: await requestsOf(other.id) }, 'refused (the agent not issued without approval), nothing written').toEqual({
      staff: missing, agentAsks: missing, credited: ['0', '0'], requests: [],
    });
  });

  it('a whitespace-only key is refused as an empty one is, for staff and an agent above the limit, nothing written', async () => {
    // checkPaymentKey refused only "", and gateCreditNote only a key that is not there: "   " issued staff's note,
    // and stored the agent's request PENDING under it.
    const missing = { code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_MISSING', field: 'input.idempotencyKey' };
    const inv = await issued('acc_cnk_blank');
    const other = await issued('acc_cnk_blank_agent');
    const staff = await refusal(ADMIN, ISSUE, note(inv.id, inv.lines[0].id, '3.00', '   ', 'Outage goodwill')).catch((error: Error) => error.message);
    const agentAsks = await refusal(ANN, ISSUE, note(other.id, other.lines[0].id, '8.00', ' \t ', 'Outage goodwill')).catch((error: Error) => error.message);
    const credited = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice.amountCredited.amount;
    expect({ staff, agentAsks, credited: [await credited(inv.id), await credited(other.id)], requests: await requestsOf(other.id) }, 'refused, nothing written, no request stored').toEqual({
      staff: missing, agentAsks: missing, credited: ['0', '0'], requests: [],
    });
  });
});
