// Four eyes on money going out (contracts' approval-policy.ts, LEDGERLINE_APPROVAL_LIMITS): an AGENT's
// credit note, refund or dispute ACCEPT above the approval limit of its currency moves nothing; it
// becomes a PENDING approval_request holding the exact input, answered instead of the result. A
// supervisor (ADMIN, or an AGENT with scope billing:approve) who is not the requester approves it
// (the operation runs once, in the approval's transaction, with that input: the credit note's or
// refund's own idempotency key, or the dispute's `dispute:<id>` credit note, backs "once") or
// rejects it. Supervisors and SYSTEM act at once at any amount.
//
// No request waits for ever: one not decided within LEDGERLINE_APPROVAL_TTL_HOURS can no longer be
// approved (APPROVAL_EXPIRED; the due-date pass marks it EXPIRED), and one whose operation is refused
// with a coded error when approved ends FAILED with that code (a transient error leaves it PENDING).
//
// Each gate runs first in the operation's transaction and answers a request, or null (go on: the
// caller is not limited, the amount is within the limit, the key was used already, or the input is
// not what the operation takes, so that the operation itself answers with its own error). A new
// request is stored only once the operation's own checks pass as they would now (requestFor's
// `check`: prepareCreditNote, prepareRefund, checkDisputeDecision), so a request that could not be
// carried out is refused at once with the operation's error; approving checks again.
//
// The daily limit (LEDGERLINE_APPROVAL_DAILY_LIMITS): what the agent credited and refunded alone in
// the last 24 h (credit_note / refund `moved_alone_by`; a dispute ACCEPT's credit is a credit note),
// plus this operation, must stay within it; past it the operation becomes a request like one above
// the per-operation limit, its reason saying so. The sum is read under a transaction lock on
// (agent, currency), so two concurrent operations of one agent cannot both pass on the same sum.
import { approvalDailyWindowStart, badInput, conflict, dailyLimitExceeded, dec, Decimal, decodeCursor, approvalActor, approvalExpired, approvalExpiresAt, approvalFailure, isApprovalExpired, isApprover, isDecimalString, minorUnits, needsApproval, newId, notFound, pageSize, requireApprover, toConnection, type ApprovalLimits, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { PaymentProvider } from '../adapters/payment-provider';
import { lineCreditable } from '../domain/charge-refundable';
import { disputeAmount, isOpenDispute } from '../domain/disputes';
import { givenBackApart } from './charge-given-back';
import { checkDisputeDecision, decideDispute, disputeCreditKey } from './disputes';
import { issueCreditNote, lockIdempotencyKey, paymentKeyUsable, prepareCreditNote, prepareRefund, refundPayment, refundReasonProblem, type IssueCreditNoteCommand } from './payments';
import { enqueueEvents, requestHash, rows, sql } from './sql';

export type ApprovalKind = 'CREDIT_NOTE' | 'REFUND' | 'DISPUTE_ACCEPT';
export type ApprovalStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'EXPIRED' | 'FAILED';

export interface ApprovalRow {
  id: string;
  kind: ApprovalKind;
  subject_id: string;
  billing_account_id: string;
  amount: string;
  currency: string;
  requested_by: string;
  requested_role: string;
  reason: string;
  input: Record<string, unknown>;
  request_key: string;
  request_hash: string;
  status: ApprovalStatus;
  decided_by: string | null;
  decision_note: string | null;
  result_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  created_at: Date;
  decided_at: Date | null;
}

export type CreditNoteInput = Omit<IssueCreditNoteCommand, 'now'>;
export interface RefundInput {
  paymentId: string;
  amount: { amount: string; currency: string };
  idempotencyKey: string;
}
export interface DisputeAcceptInput {
  disputeId: string;
  decision: 'ACCEPT';
  amount: string | null;
  note: string;
}

interface Ask {
  kind: ApprovalKind;
  subjectId: string;
  billingAccountId: string;
  amount: Decimal;
  currency: string;
  reason: string;
  input: object;
  requestKey: string;
  caller: Caller;
  now: Date;
}

const limited = (caller: Caller): boolean => caller.role === 'AGENT' && !isApprover(caller);
/** An amount the operation takes (above zero, in the currency's minor units); anything else: the operation refuses it itself. */
const takes = (amount: Decimal, currency: string): boolean => amount.gt(0) && amount.decimalPlaces() <= minorUnits(currency);

/**
 * The request for `ask` (under the lock the caller holds on its key): the one this key made already
 * (same input; other input: IDEMPOTENCY_KEY_REUSED, or for a dispute APPROVAL_PENDING), else a new one
 * once `check` passed: the operation's own checks as it would run now (prepareCreditNote,
 * prepareRefund, checkDisputeDecision; nothing written, no money moved), so a request that could not
 * be carried out is refused at once with the operation's error, as if the agent had done it, and not
 * stored (before, it waited PENDING until a later note/refund closed it or its approval failed).
 * Approving still runs the whole operation again: the subject may change meanwhile.
 */
async function requestFor(em: Em, ask: Ask, check: () => Promise<unknown>): Promise<ApprovalRow> {
  const k = sql(em);
  const hash = requestHash(ask.input);
  const existing: ApprovalRow | undefined =
    ask.kind === 'DISPUTE_ACCEPT'
      ? await k('approval_request').where({ kind: ask.kind, billing_account_id: ask.billingAccountId, request_key: ask.requestKey, status: 'PENDING' }).first()
      : await k('approval_request').where({ kind: ask.kind, billing_account_id: ask.billingAccountId, request_key: ask.requestKey }).orderBy('created_at', 'desc').first();
  if (existing) {
    if (existing.request_hash === hash) return existing;
    if (ask.kind === 'DISPUTE_ACCEPT') throw conflict('APPROVAL_PENDING', `An ACCEPT of dispute ${ask.subjectId} already waits for approval (request ${existing.id}); a supervisor approves or rejects it first`, { field: 'input.amount', approvalRequestId: existing.id });
    throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${ask.requestKey}" was used for a different request`, { field: 'input.idempotencyKey' });
  }
  await check();
  const [row] = await k('approval_request')
    .insert({
      id: newId('approvalRequest'),
      kind: ask.kind,
      subject_id: ask.subjectId,
      billing_account_id: ask.billingAccountId,
      amount: ask.amount.toFixed(),
      currency: ask.currency,
      requested_by: approvalActor(ask.caller),
      requested_role: ask.caller.role,
      reason: ask.reason.slice(0, 2000),
      input: JSON.stringify(ask.input),
      request_key: ask.requestKey,
      request_hash: hash,
      status: 'PENDING',
      created_at: ask.now,
    })
    .returning('*');
  await announce(em, 'approvalRequested', row as ApprovalRow, ask.now);
  return row as ApprovalRow;
}

/** The requests' states on the outbox (billing.invoicing.approvalrequest.created / .decided / .expired), once per state. */
async function announce(em: Em, name: 'approvalRequested' | 'approvalDecided' | 'approvalExpired', r: ApprovalRow | ApprovalRow[], now: Date): Promise<void> {
  await enqueueEvents(em, name, now, (Array.isArray(r) ? r : [r]).map((r) => ({
    subject: r.id,
    key: [r.id, r.status],
    data: {
      approvalRequestId: r.id, kind: r.kind, subjectId: r.subject_id, billingAccountId: r.billing_account_id, amount: dec(String(r.amount)).toFixed(minorUnits(r.currency)), currency: r.currency,
      requestedBy: r.requested_by, reason: r.reason, status: r.status, decidedBy: r.decided_by, decisionNote: r.decision_note, resultId: r.result_id,
      ...(r.status === 'FAILED' ? { failureCode: r.failure_code, failureReason: r.failure_reason } : {}),
    },
  })));
}

/**
 * Under the agent's daily lock: why the operation waits for a supervisor (above the per-operation
 * limit, or past the daily limit), or null: it passes alone, and the row it makes records the agent
 * (the column default reads the transaction-local setting) so that it counts from now on.
 */
async function whyApproval(em: Em, limits: ApprovalLimits, daily: ApprovalLimits, caller: Caller, amount: Decimal, currency: string, now: Date): Promise<string | null> {
  if (needsApproval(limits, caller, amount, currency)) return '';
  const actor = approvalActor(caller);
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['approval-daily:invoicing', `${actor}|${currency}`]);
  const exceeded = dailyLimitExceeded(daily, await movedAlone(em, actor, currency, now), amount, currency);
  if (exceeded) return exceeded;
  await sql(em).raw(`select set_config('ledgerline.moved_alone_by', ?, true)`, [actor]);
  return null;
}

/** What `actor` credited and refunded alone in `currency` in the 24 h before `now`. */
async function movedAlone(em: Em, actor: string, currency: string, now: Date): Promise<Decimal> {
  const since = approvalDailyWindowStart(now);
  const [r] = await rows<{ total: string | null }>(
    em,
    `select (select coalesce(sum(total), 0) from credit_note where moved_alone_by = ? and currency = ? and created_at > ?)
          + (select coalesce(sum(amount), 0) from refund where moved_alone_by = ? and currency = ? and created_at > ?) as total`,
    [actor, currency, since, actor, currency, since],
  );
  return dec(String(r?.total ?? '0'));
}

/** The request's reason: the agent's own, after why it waits when that is the daily limit. */
const withWhy = (why: string, reason: string): string => (why ? `${why}. ${reason}` : reason);

/** A request this key asked already on the account and still waiting: answered as it is, also once the day has room again. */
const pendingFor = async (em: Em, kind: ApprovalKind, account: string, key: string): Promise<boolean> => Boolean(await sql(em)('approval_request').where({ kind, billing_account_id: account, request_key: key, status: 'PENDING' }).first('id'));

/** issueCreditNote: the note's total (its lines' amounts) in the invoice's currency. */
export async function gateCreditNote(em: Em, limits: ApprovalLimits, daily: ApprovalLimits, caller: Caller, input: CreditNoteInput, now: Date): Promise<ApprovalRow | null> {
  // A blank key or one the note's row cannot hold: issueCreditNote refuses it now, rather than every approval later (as gateRefund).
  if (!limited(caller) || !paymentKeyUsable(input?.idempotencyKey) || !Array.isArray(input.lines) || input.lines.length === 0) return null;
  if (!input.lines.every((l) => isDecimalString(l?.amount))) return null;
  const invoice = await sql(em)('invoice').where({ id: input.invoiceId }).first('id', 'billing_account_id', 'currency');
  if (!invoice) return null;
  if (!input.lines.every((l) => takes(dec(l.amount), invoice.currency))) return null;
  const total = input.lines.reduce((sum, l) => sum.plus(l.amount), dec('0'));
  // The key is the invoice's account's, as issueCreditNote keeps it (the same lock).
  await lockIdempotencyKey(em, 'credit_note', invoice.billing_account_id, input.idempotencyKey);
  if (await sql(em)('credit_note').where({ billing_account_id: invoice.billing_account_id, idempotency_key: input.idempotencyKey }).first('id')) return null; // issued already: the operation replays it
  let why = await whyApproval(em, limits, daily, caller, total, invoice.currency, now);
  if (why === null && (await pendingFor(em, 'CREDIT_NOTE', invoice.billing_account_id, input.idempotencyKey))) why = '';
  if (why === null) return null;
  const op: CreditNoteInput = { invoiceId: input.invoiceId, kind: input.kind, reason: input.reason, lines: input.lines.map((l) => ({ invoiceLineId: l.invoiceLineId, amount: l.amount })), idempotencyKey: input.idempotencyKey };
  return requestFor(em, { kind: 'CREDIT_NOTE', subjectId: invoice.id, billingAccountId: invoice.billing_account_id, amount: total, currency: invoice.currency, reason: withWhy(why, input.reason ?? ''), input: op, requestKey: input.idempotencyKey, caller, now }, () => prepareCreditNote(em, op));
}

/** refundPayment: the refunded amount in the payment's currency. */
export async function gateRefund(em: Em, limits: ApprovalLimits, daily: ApprovalLimits, caller: Caller, input: RefundInput & { reason?: string | null }, now: Date): Promise<ApprovalRow | null> {
  // A blank key or one the refund row cannot hold: refundPayment refuses it now, rather than a supervisor's approval later.
  if (!limited(caller) || !paymentKeyUsable(input?.idempotencyKey) || !isDecimalString(input.amount?.amount) || refundReasonProblem(input.reason)) return null;
  const payment = await sql(em)('payment').where({ id: input.paymentId }).first('id', 'billing_account_id', 'currency');
  if (!payment || payment.currency !== input.amount.currency) return null;
  const amount = dec(input.amount.amount);
  if (!takes(amount, payment.currency)) return null;
  // The key is the payment's account's, as refundPayment keeps it (the same lock).
  await lockIdempotencyKey(em, 'refund', payment.billing_account_id, input.idempotencyKey);
  if (await sql(em)('refund').where({ billing_account_id: payment.billing_account_id, idempotency_key: input.idempotencyKey }).first('id')) return null;
  let why = await whyApproval(em, limits, daily, caller, amount, payment.currency, now);
  if (why === null && (await pendingFor(em, 'REFUND', payment.billing_account_id, input.idempotencyKey))) why = '';
  if (why === null) return null;
  const op: RefundInput = { paymentId: input.paymentId, amount: { amount: input.amount.amount, currency: input.amount.currency }, idempotencyKey: input.idempotencyKey };
  const reason = input.reason?.trim() || `Refund of ${input.amount.amount} ${payment.currency} of payment ${payment.id}`;
  return requestFor(em, { kind: 'REFUND', subjectId: payment.id, billingAccountId: payment.billing_account_id, amount, currency: payment.currency, reason: withWhy(why, reason), input: op, requestKey: input.idempotencyKey, caller, now }, () => prepareRefund(em, op));
}

/** decideDispute ACCEPT: the credited amount (default the dispute's amount) in its currency; REJECT moves nothing. */
export async function gateDisputeAccept(em: Em, limits: ApprovalLimits, daily: ApprovalLimits, caller: Caller, input: { disputeId: string; decision: string; amount?: string | null; note: string }, now: Date): Promise<ApprovalRow | null> {
  if (!limited(caller) || input?.decision !== 'ACCEPT' || !input.note?.trim()) return null;
  if (input.amount != null && !isDecimalString(input.amount)) return null;
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['approval:dispute', input.disputeId]);
  const d = await sql(em)('dispute').where({ id: input.disputeId }).first('id', 'billing_account_id', 'currency', 'amount', 'status');
  if (!d || !isOpenDispute(d.status)) return null; // the decision answers (as it is, or DISPUTE_ALREADY_DECIDED)
  const amount = input.amount == null ? dec(String(d.amount)) : disputeAmount(input.amount, d.currency, 'input.amount', 'A credited amount');
  if (amount.gt(String(d.amount))) return null;
  const why = await whyApproval(em, limits, daily, caller, amount, d.currency, now);
  if (why === null) return null;
  // The amount as a number, also when "all of it" was asked: a staff dispute's amount may change meanwhile (disputeInvoice), and the supervisor approves what they see.
  const op: DisputeAcceptInput = { disputeId: d.id, decision: 'ACCEPT', amount: amount.toFixed(minorUnits(d.currency)), note: input.note.trim() };
  // Checked as the requester's own decision (the approval carries it out as theirs).
  return requestFor(em, { kind: 'DISPUTE_ACCEPT', subjectId: d.id, billingAccountId: d.billing_account_id, amount, currency: d.currency, reason: withWhy(why, op.note), input: op, requestKey: disputeCreditKey(d.id), caller, now }, () => checkDisputeDecision(em, { ...op, caller, now }));
}

async function lockRequest(em: Em, id: string): Promise<ApprovalRow> {
  const row = await sql(em)('approval_request').where({ id }).forUpdate().first();
  if (!row) throw notFound('ApprovalRequest', id, 'input.id');
  return row as ApprovalRow;
}

/** Only a supervisor other than the requester decides a request. */
const requireDecider = (row: ApprovalRow, caller: Caller): void => requireApprover(caller, row.requested_by, `approval request ${row.id}`);

const inputOf = <T>(row: ApprovalRow): T => (typeof row.input === 'string' ? JSON.parse(row.input) : row.input) as T;

/** When `r` can no longer be approved (ApprovalRequest.expiresAt). */
export const expiresAt = (r: ApprovalRow, ttlHours: number): Date => approvalExpiresAt(r.created_at, ttlHours);

/** A PENDING request past its TTL is expired whether or not the pass has marked it yet. */
function refuseExpired(row: ApprovalRow, now: Date, ttlHours: number): void {
  if (row.status === 'EXPIRED' || (row.status === 'PENDING' && isApprovalExpired(row.created_at, now, ttlHours))) throw approvalExpired(`Approval request ${row.id}`, row.created_at, ttlHours);
}

/**
 * Approves a PENDING request: its operation runs once, now, with the stored input; the request is
 * APPROVED with what it made. Under the request's row lock: a second (or concurrent) approval waits
 * and answers the request as it ended. One past its TTL: APPROVAL_EXPIRED, nothing runs.
 *
 * The operation runs in a savepoint: its own coded refusal (the situation changed: the line was
 * credited meanwhile, the payment refunded, the dispute decided) undoes what it did and ends the
 * request FAILED with the code and reason, so it no longer waits as if it could still be approved.
 * Any other error (database, connection, a provider that did not answer) rolls it all back: PENDING.
 */
export async function approveRequest(em: Em, c: { id: string; caller: Caller; now: Date; ttlHours: number }, payments: PaymentProvider): Promise<{ row: ApprovalRow; changed: boolean }> {
  const row = await lockRequest(em, c.id);
  requireDecider(row, c.caller);
  if (row.status === 'APPROVED' || row.status === 'FAILED') return { row, changed: false };
  if (row.status === 'REJECTED') throw conflict('APPROVAL_REQUEST_DECIDED', `Approval request ${row.id} was rejected`, { field: 'input.id', status: row.status });
  refuseExpired(row, c.now, c.ttlHours);
  const k = sql(em);
  await k.raw('savepoint approval_operation');
  let outcome: Record<string, unknown>;
  try {
    outcome = { status: 'APPROVED', result_id: await runOperation(em, row, c.caller, c.now, payments) };
    await k.raw('release savepoint approval_operation');
  } catch (error) {
    const failure = approvalFailure(error);
    if (!failure) throw error;
    await k.raw('rollback to savepoint approval_operation');
    outcome = { status: 'FAILED', failure_code: failure.code, failure_reason: failure.reason };
  }
  const [updated] = await k('approval_request').where({ id: row.id }).update({ ...outcome, decided_by: approvalActor(c.caller), decided_at: c.now }).returning('*');
  await announce(em, 'approvalDecided', updated as ApprovalRow, c.now);
  return { row: updated as ApprovalRow, changed: true };
}

/**
 * Runs a request's operation with its stored input; the id of what it made. A refund's event names
 * the requester, `approver` and the request; its reason is the request's (the stored input has none).
 */
async function runOperation(em: Em, row: ApprovalRow, approver: Caller, now: Date, payments: PaymentProvider): Promise<string> {
  const origin = { by: row.requested_by, role: row.requested_role, approvedBy: approvalActor(approver), approvalRequestId: row.id };
  if (row.kind === 'CREDIT_NOTE') return issueCreditNote(em, { ...inputOf<CreditNoteInput>(row), now }, payments, origin);
  if (row.kind === 'REFUND') return refundPayment(em, { ...inputOf<RefundInput>(row), now }, payments, { ...origin, reason: row.reason });
  const op = inputOf<DisputeAcceptInput>(row);
  const requester: Caller = { role: 'AGENT', subject: row.requested_by, scopes: [] };
  const r = await decideDispute(em, { ...op, caller: requester, now, approvalRequestId: row.id });
  // Decided meanwhile (the workflow at its deadline, another agent): this ACCEPT credits nothing more.
  const d = await sql(em)('dispute').where({ id: op.disputeId }).first('status', 'credit_note_id', 'decided_by');
  if (!r.changed) throw conflict('DISPUTE_ALREADY_DECIDED', `Dispute ${op.disputeId} is ${d.status} already (decided by ${d.decided_by})`, { field: 'input.id', status: d.status });
  return d.credit_note_id;
}

/**
 * The dispute was closed otherwise (decided by the workflow at its deadline or another agent,
 * withdrawn, resolved with its invoice, covered by a credit note): its PENDING ACCEPT requests can no
 * longer run and end FAILED DISPUTE_ALREADY_DECIDED at once, by nobody (decided_by null), as approving
 * them would end, so no supervisor sees them as work left. Called in the closing transaction, under the
 * dispute's row lock; `except`: the request whose approval is closing it. A request a supervisor is
 * approving right now (row locked) is skipped: that approval finds the dispute decided and ends it so.
 */
export async function closeDisputeApprovals(em: Em, disputeId: string, status: string, decidedBy: string, now: Date, except?: string | null): Promise<void> {
  const found = await rows<ApprovalRow>(em,
    `select r.* from approval_request r where r.kind = 'DISPUTE_ACCEPT' and r.subject_id = ? and r.status = 'PENDING' and r.id <> ? for update of r skip locked`,
    [disputeId, except ?? ''],
  );
  await closeFailed(em, found.map((r) => ({ id: r.id, code: 'DISPUTE_ALREADY_DECIDED', reason: `Dispute ${disputeId} is ${status} already (decided by ${decidedBy})` })), now);
}

/**
 * Ends `closed` (PENDING rows the caller chose and locked, `for update skip locked`: a request a supervisor is
 * approving right now is left to that approval) FAILED by nobody, each with its code and reason, announced once.
 */
async function closeFailed(em: Em, closed: { id: string; code: string; reason: string }[], now: Date): Promise<void> {
  const done: ApprovalRow[] = [];
  for (const c of closed) {
    done.push(...(await rows<ApprovalRow>(em,
      `update approval_request set status = 'FAILED', decided_at = ?, failure_code = ?, failure_reason = ? where id = ? and status = 'PENDING' returning *`,
      [now, c.code, `${c.reason} before this request was approved; nothing moved`.slice(0, 2000), c.id],
    )));
  }
  if (done.length > 0) await announce(em, 'approvalDecided', done, now);
}

/**
 * A credit note was issued on the invoice, or the draft voided (called in that transaction, under the
 * invoice's row lock; a draft takes no new request, INVOICE_NOT_ISSUED, so that is for requests stored
 * before requests were checked): its PENDING CREDIT_NOTE requests that can never run any more end FAILED at once,
 * by nobody, with the code issueCreditNote would refuse them with: INVOICE_VOIDED, or a line or the
 * invoice without room for them any more (CREDIT_NOTE_EXCEEDS_LINE / _INVOICE; what is credited only
 * grows). One that still fits stays PENDING; so does one whose key a note used already (its approval
 * replays that note: the approval issuing it right now, too), and one a supervisor is approving right
 * now (row locked: skipped, its approval ends it). Other refusals (a REFUND note above what is paid,
 * which payments may still change) are left to the approval.
 */
export async function closeCreditNoteApprovals(em: Em, invoiceId: string, now: Date): Promise<void> {
  const found = await rows<ApprovalRow>(em,
    `select r.* from approval_request r where r.kind = 'CREDIT_NOTE' and r.subject_id = ? and r.status = 'PENDING'
        and not exists (select 1 from credit_note n where n.billing_account_id = r.billing_account_id and n.idempotency_key = r.request_key) for update of r skip locked`,
    [invoiceId],
  );
  if (found.length === 0) return;
  const k = sql(em);
  const invoice = await k('invoice').where({ id: invoiceId }).first('state', 'total', 'currency');
  const scale = minorUnits(invoice.currency);
  const [credited] = await rows<{ total: string | null }>(em, 'select sum(total) as total from credit_note where invoice_id = ?', [invoiceId]);
  const invoiceLeft = dec(String(invoice.total)).minus(String(credited?.total ?? '0'));
  const apart = await givenBackApart(em, invoiceId);
  const lineLeft = new Map((await k('invoice_line').where({ invoice_id: invoiceId }).select('id', 'gross_amount', 'credited_amount')).map((l: any) => [l.id as string, lineCreditable(String(l.gross_amount), String(l.credited_amount), apart.get(l.id)?.all ?? '0')]));
  const closed = found.flatMap((r) => {
    if (invoice.state === 'VOIDED') return [{ id: r.id, code: 'INVOICE_VOIDED', reason: `Invoice ${invoiceId} was voided` }];
    const full = inputOf<CreditNoteInput>(r).lines.find((l) => lineLeft.has(l.invoiceLineId) && dec(l.amount).gt(lineLeft.get(l.invoiceLineId)!));
    if (full) return [{ id: r.id, code: 'CREDIT_NOTE_EXCEEDS_LINE', reason: `Only ${Decimal.max(0, lineLeft.get(full.invoiceLineId)!).toFixed(scale)} of line ${full.invoiceLineId} can still be credited (this request credits ${dec(full.amount).toFixed(scale)})` }];
    if (dec(String(r.amount)).gt(invoiceLeft)) return [{ id: r.id, code: 'CREDIT_NOTE_EXCEEDS_INVOICE', reason: `Only ${Decimal.max(0, invoiceLeft).toFixed(scale)} of invoice ${invoiceId} can still be credited (this request credits ${dec(String(r.amount)).toFixed(scale)})` }];
    return [];
  });
  await closeFailed(em, closed, now);
}

/**
 * Money of the payment was given back (a refund, a REFUND credit note; called in that transaction,
 * under the payment's row lock, after its refunded amount went up): its PENDING REFUND requests above
 * what is left to refund can never run any more (refunded only grows) and end FAILED
 * REFUND_EXCEEDS_PAYMENT at once, by nobody, as refundPayment would refuse them. As for credit notes:
 * one that still fits, one whose key a refund used already, and one being approved right now stay.
 * REFUND_EXCEEDS_AVAILABLE (the account's credit, which may come back) is left to the approval.
 */
export async function closeRefundApprovals(em: Em, paymentId: string, now: Date): Promise<void> {
  const payment = await sql(em)('payment').where({ id: paymentId }).first('amount', 'refunded_amount', 'currency');
  const left = dec(String(payment.amount)).minus(String(payment.refunded_amount));
  const found = await rows<ApprovalRow>(em,
    `select r.* from approval_request r where r.kind = 'REFUND' and r.subject_id = ? and r.status = 'PENDING' and r.amount > ?
        and not exists (select 1 from refund f where f.billing_account_id = r.billing_account_id and f.idempotency_key = r.request_key) for update of r skip locked`,
    [paymentId, left.toFixed()],
  );
  const scale = minorUnits(payment.currency);
  await closeFailed(em, found.map((r) => ({ id: r.id, code: 'REFUND_EXCEEDS_PAYMENT', reason: `Only ${Decimal.max(0, left).toFixed(scale)} of payment ${paymentId} can still be refunded (this request refunds ${dec(String(r.amount)).toFixed(scale)})` })), now);
}

/**
 * One pass of the due-date job: PENDING requests made `ttlHours` or more before `now` become
 * EXPIRED (nothing moved; approvalrequest.expired each), oldest first, `limit` a pass. Rows a
 * supervisor is deciding right now are skipped (their approval sees the TTL itself); the next pass
 * takes what is left.
 */
export async function expireApprovalRequests(em: Em, now: Date, ttlHours: number, limit = 500): Promise<ApprovalRow[]> {
  return em.transactional(async (tx) => {
    const cutoff = new Date(now.getTime() - Math.round(ttlHours * 3_600_000));
    const expired = (await rows<ApprovalRow>(tx as Em,
      `update approval_request set status = 'EXPIRED', decided_at = ?, decision_note = ?
        where id in (select id from approval_request where status = 'PENDING' and created_at <= ? order by created_at, id limit ? for update skip locked)
        returning *`,
      [now, `Not decided within ${ttlHours} h (LEDGERLINE_APPROVAL_TTL_HOURS); nothing moved. Ask again with a new idempotency key.`, cutoff, limit],
    ));
    await announce(tx as Em, 'approvalExpired', expired, now);
    return expired;
  });
}

/** Rejects a PENDING request: nothing moves. Rejecting again answers it as it is; an approved or failed one is APPROVAL_REQUEST_DECIDED, an expired one APPROVAL_EXPIRED. */
export async function rejectRequest(em: Em, c: { id: string; reason: string; caller: Caller; now: Date; ttlHours: number }): Promise<ApprovalRow> {
  const reason = (c.reason ?? '').trim();
  if (reason.length < 3) throw badInput('input.reason', 'Say why the request is rejected (at least 3 characters; the requester reads it)', 'REASON_REQUIRED');
  const row = await lockRequest(em, c.id);
  requireDecider(row, c.caller);
  if (row.status === 'REJECTED') return row;
  if (row.status === 'APPROVED' || row.status === 'FAILED') throw conflict('APPROVAL_REQUEST_DECIDED', `Approval request ${row.id} was ${row.status === 'APPROVED' ? 'approved' : row.decided_by == null ? `closed: ${row.failure_reason}` : 'approved and its operation refused'}`, { field: 'input.id', status: row.status });
  refuseExpired(row, c.now, c.ttlHours);
  const [updated] = await sql(em)('approval_request').where({ id: row.id }).update({ status: 'REJECTED', decided_by: approvalActor(c.caller), decision_note: reason.slice(0, 2000), decided_at: c.now }).returning('*');
  await announce(em, 'approvalDecided', updated as ApprovalRow, c.now);
  return updated as ApprovalRow;
}

/** Newest first (created_at, then id), of one status or all; the cursor is the last row's (created_at, id). */
export async function listApprovalRequests(em: Em, args: { status?: ApprovalStatus | null; first?: number | null; after?: string | null }) {
  const limit = pageSize(args);
  const q = sql(em)('approval_request').modify((b) => (args.status ? b.where({ status: args.status }) : b));
  if (args.after) {
    const [at, id] = decodeCursor(args.after).split('|');
    if (!at || !id || Number.isNaN(Date.parse(at))) throw badInput('after', 'This cursor was not issued by approvalRequests', 'CURSOR_INVALID');
    q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [at, id]);
  }
  const found = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit + 1)) as ApprovalRow[];
  return toConnection(found, limit, (r) => `${new Date(r.created_at).toISOString()}|${r.id}`, Boolean(args.after));
}

/** The pending request of each dispute (Dispute.pendingApproval). */
export async function pendingDisputeApprovals(em: Em, disputeIds: readonly string[]): Promise<ApprovalRow[]> {
  return sql(em)('approval_request').where({ kind: 'DISPUTE_ACCEPT', status: 'PENDING' }).whereIn('subject_id', [...disputeIds]);
}
