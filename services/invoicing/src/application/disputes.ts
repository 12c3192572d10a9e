// Disputes (notes/dispute-contract.md): a customer (or staff) disputes an issued invoice, a line of
// it or a rated usage record, paid or not, up to what can still be credited; the amount joins the
// invoice's disputed amount, and an invoice that still owes is held (dunning waits for it) until the
// dispute closes (a paid one keeps its state; an accepted dispute's credit then becomes account credit). The dispute workflow (workflows/) assesses it by the rules in
// catalog/disputes/auto-assessment.json, escalates it on SLA breaches and may decide it; agents
// decide it. ACCEPT credits with a CREDIT credit note keyed `dispute:<id>` (exactly once: every
// decision runs under the account's credit lock and the invoice and dispute row locks, and the key is
// unique), REJECT and WITHDRAW credit nothing; each takes the amount off the hold.
//
// Lock order, as everywhere in invoicing (lock-order.ts): credit:<account> lock, invoice row, dispute row.
import fs from 'node:fs';
import { DomainError, badInput, conflict, dec, minorUnits, newId, notFound, type Caller, type Decimal, type DisputeCreditNote } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { isDraft, type InvoiceState } from '../domain/lifecycle';
import { assess, assessmentFacts, disputeAmount, isOpenDispute, isStaffHold, parseDisputeRules, STAFF_HOLD_KEY_PREFIX, reviewDueAt, type Assessment, type DisputePolicy, type DisputeRules, type DisputeTarget } from '../domain/disputes';
import { invoiceUndisputed, lineCreditable } from '../domain/charge-refundable';
import { closeDisputeApprovals } from './approvals';
import { isStaff, requireAccount, requireStaff, requireSystem } from './authorization';
import { givenBackApart, outsideOfInvoice } from './charge-given-back';
import { lockAccountCredit } from './credit';
import { disputeInvoiceState, holdForDispute, lockInvoice, releaseDisputeAmount } from './invoice-lifecycle';
import { invoiceDue, issueCreditNote, prepareCreditNote, type IssueCreditNoteCommand } from './payments';
import { enqueueEvents, requestHash, rows, sql } from './sql';
import { lineThatBilled, recordAsBilled, recordRoom } from './usage-record-given-back';

/** catalog/disputes/auto-assessment.json (under CATALOG_DIR when set), checked: a bad file is a start-up error naming each problem. */
export function loadDisputeRules(file = `${process.env.CATALOG_DIR ?? new URL('../../../../catalog', import.meta.url).pathname}/disputes/auto-assessment.json`): DisputeRules {
  return parseDisputeRules(fs.readFileSync(file, 'utf8'), file);
}

/** The credit note of an accepted dispute: its key, reserved (no caller may take it). */
export const disputeCreditKey = (disputeId: string): string => `dispute:${disputeId}`;

export interface OpenDisputeCommand {
  invoiceId: string;
  amount: string;
  reason: string;
  invoiceLineId?: string | null;
  usageRecordId?: string | null;
  idempotencyKey: string;
  caller: Caller;
  now: Date;
}

/**
 * Opens a dispute (or answers the one its key opened). `created`: false for a replay; `held`: the
 * invoice is on hold for it (it still owes; a paid invoice keeps its state and has no dunning to tell).
 */
export async function openDispute(em: Em, c: OpenDisputeCommand): Promise<{ id: string; created: boolean; held: boolean }> {
  const k = sql(em);
  const peek = await k('invoice').where({ id: c.invoiceId }).first();
  if (!peek) throw notFound('Invoice', c.invoiceId, 'input.invoiceId');
  await requireAccount(em, c.caller, peek.billing_account_id, 'dispute this invoice', () => notFound('Invoice', c.invoiceId, 'input.invoiceId'));
  if (!c.idempotencyKey?.trim()) throw badInput('input.idempotencyKey', 'An idempotency key is required', 'IDEMPOTENCY_KEY_MISSING');
  if (c.idempotencyKey.length > 200) throw badInput('input.idempotencyKey', 'An idempotency key has at most 200 characters', 'IDEMPOTENCY_KEY_TOO_LONG');
  // A NUL is no text PostgreSQL holds: refused here rather than failing the lock or the insert (INTERNAL).
  if (c.idempotencyKey.includes('\u0000')) throw badInput('input.idempotencyKey', 'An idempotency key cannot hold a NUL character', 'IDEMPOTENCY_KEY_INVALID');
  const amount = disputeAmount(c.amount, peek.currency);
  const reason = (c.reason ?? '').trim();
  if (!reason) throw badInput('input.reason', 'Say what is wrong with the invoice', 'DISPUTE_REASON_MISSING');
  if (reason.length > 1000) throw badInput('input.reason', 'A reason has at most 1000 characters', 'DISPUTE_REASON_TOO_LONG');
  if (reason.includes('\u0000')) throw badInput('input.reason', 'A reason cannot hold a NUL character', 'DISPUTE_REASON_INVALID');
  if (c.usageRecordId != null && (!c.usageRecordId.trim() || c.usageRecordId.length > 80 || c.usageRecordId.includes('\u0000'))) throw badInput('input.usageRecordId', 'A usage record id has 1 to 80 characters, without NUL', 'DISPUTE_USAGE_RECORD_INVALID');
  // An empty line id is no line ("" was stored as the dispute's line of an invoice-level dispute).
  if (c.invoiceLineId != null && (!c.invoiceLineId.trim() || c.invoiceLineId.includes('\u0000'))) throw badInput('input.invoiceLineId', 'An invoice line id is not empty and has no NUL (leave it out to dispute the invoice)', 'DISPUTE_LINE_INVALID');
  const invoiceLineId = c.invoiceLineId ?? null;
  const usageRecordId = c.usageRecordId ?? null;
  const hash = requestHash({ invoiceId: c.invoiceId, amount: amount.toFixed(), reason, invoiceLineId, usageRecordId });

  // Same key: queue behind the first request, then answer its dispute (or refuse other input).
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['idempotency:dispute', `${peek.billing_account_id}:${c.idempotencyKey}`]);
  const existing = await k('dispute').where({ billing_account_id: peek.billing_account_id, idempotency_key: c.idempotencyKey }).first();
  if (existing) {
    if (existing.request_hash !== hash) throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" opened another dispute (${existing.id}) with other input`, { field: 'input.idempotencyKey' });
    return { id: existing.id, created: false, held: false };
  }

  const invoice = await lockInvoice(em, c.invoiceId);
  const currency = invoice.currency as string;
  const scale = minorUnits(currency);
  if (invoice.state === 'VOIDED' || isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from })) {
    throw new DomainError('INVOICE_NOT_ISSUED', `Invoice ${invoice.id} is not issued: only an issued invoice can be disputed (a draft is corrected by regenerating it)`, { field: 'input.invoiceId' });
  }
  // Whatever it still owes (autopay may have paid it on the due date): up to what can still be
  // credited — its total less what its credit notes took and what its other open disputes hold.
  const [{ noted }] = await rows<{ noted: string | null }>(em, 'select sum(total) as noted from credit_note where invoice_id = ?', [invoice.id]);
  const [{ others }] = await rows<{ others: string | null }>(em, `select sum(amount) as others from dispute where invoice_id = ? and status in ('OPEN', 'IN_REVIEW')`, [invoice.id]);
  // Refunds of its one-off charges billed elsewhere (or not yet) gave that back too (charge-given-back.ts).
  const apart = await givenBackApart(em, invoice.id);
  // The same room a refund of one of its charges is weighed against (charge-refundable.ts).
  const undisputed = invoiceUndisputed(String(invoice.total), String(noted ?? '0'), outsideOfInvoice(apart), String(others ?? '0'));
  if (amount.gt(undisputed)) {
    const left = undisputed;
    throw new DomainError('DISPUTE_EXCEEDS_UNDISPUTED', `Only ${left.toFixed(scale)} ${currency} of invoice ${invoice.id} can still be credited and is not disputed already`, { field: 'input.amount', undisputed: left.toFixed(scale) }, 'BAD_USER_INPUT');
  }
  // A usage record: one this invoice billed, disputed on the usage line that billed it (as if that
  // line were named), for at most what the record was charged there with the line's tax share.
  let lineId = invoiceLineId;
  if (usageRecordId) {
    const billed = await usageRecordOnInvoice(em, invoice, usageRecordId);
    if (lineId && lineId !== billed.line.id) throw badInput('input.invoiceLineId', `Usage record ${usageRecordId} was billed on invoice line ${billed.line.id}, not ${lineId}`, 'DISPUTE_LINE_NOT_USAGE_RECORD_LINE');
    lineId = billed.line.id as string;
    // At most its charge there with the line's tax share, as corrected by the rerate adjustments of it
    // billed since, less its open disputes and what its accepted ones' credit notes gave back (review 19).
    const { charged, room } = await recordRoom(em, invoice, usageRecordId, billed.line, billed.charge);
    if (amount.gt(room)) {
      throw new DomainError('DISPUTE_EXCEEDS_USAGE_RECORD', `Usage record ${usageRecordId} is charged ${charged.toFixed(scale)} ${currency} on this invoice (tax included, with its re-rating corrections billed since); ${room.toFixed(scale)} ${currency} of it is not disputed or credited already`, { field: 'input.amount', undisputed: room.toFixed(scale) }, 'BAD_USER_INPUT');
    }
  }
  if (lineId) {
    const line = await k('invoice_line').where({ id: lineId, invoice_id: invoice.id }).first();
    if (!line) throw badInput('input.invoiceLineId', `Invoice line ${lineId} is not a line of invoice ${invoice.id}`, 'DISPUTE_LINE_NOT_ON_INVOICE');
    const [open] = await rows<{ total: string | null }>(em, `select sum(amount) as total from dispute where invoice_line_id = ? and status in ('OPEN', 'IN_REVIEW')`, [lineId]);
    const lineLeft = dec(String(line.gross_amount)).minus(String(line.credited_amount)).minus(String(open?.total ?? '0')).minus(apart.get(line.id)?.all ?? dec('0'));
    if (amount.gt(lineLeft)) {
      const left = lineLeft.gt(0) ? lineLeft : dec('0');
      throw new DomainError('DISPUTE_EXCEEDS_LINE', `Only ${left.toFixed(scale)} ${currency} of this line is not credited, refunded or disputed already`, { field: 'input.amount', undisputed: left.toFixed(scale) }, 'BAD_USER_INPUT');
    }
  }

  const id = newId('dispute');
  await k('dispute').insert({
    id, invoice_id: invoice.id, billing_account_id: invoice.billing_account_id, invoice_line_id: lineId, usage_record_id: usageRecordId, amount: amount.toFixed(scale), currency, reason,
    status: 'OPEN', escalation_level: 0, opened_by: c.caller.subject, idempotency_key: c.idempotencyKey, request_hash: hash, created_at: c.now,
  });
  const held = await holdForDispute(em, invoice, amount.toFixed(scale), c.now, reason);
  await enqueueEvents(em, 'disputeOpened', c.now, [
    { subject: id, key: [id, 'opened'], data: { disputeId: id, invoiceId: invoice.id, billingAccountId: invoice.billing_account_id, invoiceLineId: lineId, usageRecordId, amount: amount.toFixed(scale), currency, reason, invoiceNumber: invoice.number ?? null } },
  ]);
  return { id, created: true, held };
}

/**
 * A usage record as this invoice billed it: its charge (`unbilled_charge`; usage charges a rated
 * record under the record's own id, the id the dispute names) and the line that billed it — the
 * invoice's USAGE line of its type × zone × unit, or the ADJUSTMENT line of the earlier invoice it
 * adjusts, grouped as bill-accounts groups them (`lineThatBilled`). A record this invoice did not bill
 * (unknown, another account's, not billed yet, billed elsewhere) is USAGE_RECORD_NOT_ON_INVOICE.
 */
async function usageRecordOnInvoice(em: Em, invoice: any, usageRecordId: string): Promise<{ line: any; charge: any }> {
  const k = sql(em);
  const notOnInvoice = () => badInput('input.usageRecordId', `Usage record ${usageRecordId} is not billed on invoice ${invoice.id}`, 'USAGE_RECORD_NOT_ON_INVOICE');
  const c = await k('unbilled_charge').where({ charge_id: usageRecordId, invoice_id: invoice.id, billing_account_id: invoice.billing_account_id }).first();
  if (!c) throw notOnInvoice();
  const line = await lineThatBilled(em, invoice, c);
  if (!line) throw notOnInvoice();
  return { line, charge: c };
}

/** A dispute as it is, for a caller who may see it (staff, or its account's customer). */
async function findDispute(em: Em, disputeId: string): Promise<any> {
  const d = await sql(em)('dispute').where({ id: disputeId }).first();
  if (!d) throw notFound('Dispute', disputeId, 'input.disputeId');
  return d;
}

/** The account's credit lock, the invoice and the dispute, locked in that order; the dispute as it is now. */
async function lockDispute(em: Em, d: any): Promise<any> {
  await lockAccountCredit(em, d.billing_account_id);
  await lockInvoice(em, d.invoice_id);
  return sql(em)('dispute').where({ id: d.id }).forUpdate().first();
}

export interface DecideDisputeCommand {
  disputeId: string;
  decision: 'ACCEPT' | 'REJECT';
  amount?: string | null;
  note: string;
  caller: Caller;
  now: Date;
  /** The approval request this decision carries out (approveRequest): not closed by it. */
  approvalRequestId?: string | null;
}

/** `changed`: false when the dispute was decided this way already (answered as it is). */
export async function decideDispute(em: Em, c: DecideDisputeCommand): Promise<{ changed: boolean; invoiceId: string; billingAccountId: string }> {
  const { d, note } = await disputeToDecide(em, c);
  const changed = await decide(em, d, { decision: c.decision, amount: c.amount ?? null, note, by: c.caller.subject, now: c.now, approvalRequestId: c.approvalRequestId ?? null });
  return { changed, invoiceId: d.invoice_id, billingAccountId: d.billing_account_id };
}

/** decideDispute's checks of the caller and input, then the dispute locked (lockDispute) as it is now. */
async function disputeToDecide(em: Em, c: DecideDisputeCommand): Promise<{ d: any; note: string }> {
  requireStaff(c.caller, 'decide disputes');
  const note = (c.note ?? '').trim();
  if (!note) throw badInput('input.note', 'Say why the dispute is decided so (the customer is told)', 'DISPUTE_NOTE_MISSING');
  if (note.length > 2000) throw badInput('input.note', 'A note has at most 2000 characters', 'DISPUTE_NOTE_TOO_LONG');
  if (note.includes('\u0000')) throw badInput('input.note', 'A note cannot hold a NUL character', 'DISPUTE_NOTE_INVALID');
  if (c.decision !== 'ACCEPT' && c.decision !== 'REJECT') throw badInput('input.decision', 'ACCEPT or REJECT', 'DISPUTE_DECISION_INVALID');
  const d = await lockDispute(em, await findDispute(em, c.disputeId));
  // A staff hold (disputeInvoice) is decided by staff: the workflow's ACCEPT at the final deadline is refused (it then waits for an agent).
  if (c.decision === 'ACCEPT' && c.caller.role === 'SYSTEM' && isOpenDispute(d.status) && isStaffHold(d)) {
    throw conflict('DISPUTE_OPENED_BY_STAFF', `Dispute ${d.id} was opened by staff (disputeInvoice); an agent decides it`, { field: 'input.decision' });
  }
  return { d, note };
}

/**
 * What decideDispute would refuse now, without deciding anything or moving money: its checks of the
 * input, and for an ACCEPT of an open dispute its credit (acceptCredit) and that credit note's
 * (prepareCreditNote). Asking for an ACCEPT's approval runs it (approvals.ts), so a request that could
 * not be carried out now is refused as the decision itself is, and none is stored. A dispute decided
 * already passes: the decision answers it (as it is, or DISPUTE_ALREADY_DECIDED).
 */
export async function checkDisputeDecision(em: Em, c: DecideDisputeCommand): Promise<void> {
  const { d } = await disputeToDecide(em, c);
  if (c.decision !== 'ACCEPT' || !isOpenDispute(d.status)) return;
  await prepareCreditNote(em, (await acceptCredit(em, d, c.amount ?? null, c.now)).note);
}

/** Decides a locked dispute (see lockDispute). */
async function decide(em: Em, d: any, c: { decision: 'ACCEPT' | 'REJECT'; amount: string | null; note: string; by: string; now: Date; approvalRequestId?: string | null }): Promise<boolean> {
  if (!isOpenDispute(d.status)) {
    if ((d.status === 'ACCEPTED' && c.decision === 'ACCEPT') || (d.status === 'REJECTED' && c.decision === 'REJECT')) return false;
    throw conflict('DISPUTE_ALREADY_DECIDED', `Dispute ${d.id} is ${d.status} already`, { field: 'input.decision', status: d.status });
  }
  const k = sql(em);
  // Read before the decision's credit note, which may settle it: the customer is told whether they had
  // paid (a held invoice paid during the hold: SETTLED, the state it is released to, not ON_HOLD).
  const invoiceState = await disputeInvoiceState(em, d.invoice_id);
  let credited: string | null = null;
  let creditNoteId: string | null = null;
  if (c.decision === 'ACCEPT') {
    const credit = await acceptCredit(em, d, c.amount, c.now);
    credited = credit.amount;
    creditNoteId = await issueCreditNote(em, credit.note, null, undefined, { cause: 'DISPUTE_ACCEPTED', disputeId: d.id }); // a CREDIT note: it refunds nothing, so no payment provider
  }
  const status = c.decision === 'ACCEPT' ? 'ACCEPTED' : 'REJECTED';
  await k('dispute').where({ id: d.id }).update({ status, credited_amount: credited, credit_note_id: creditNoteId, decided_by: c.by.slice(0, 200), decision_note: c.note, decided_at: c.now, updated_at: c.now });
  await close(em, d, status, c.now, { creditedAmount: credited, creditNoteId, ownCreditNote: creditNoteId !== null, decidedBy: c.by, decisionNote: c.note, invoiceState, approvalRequestId: c.approvalRequestId });
  return true;
}

/**
 * An ACCEPT's credit of the open dispute `d` (locked): the amount (default all of it; at most the
 * dispute, and for a usage record's at most what is left of it) and the CREDIT note that gives it.
 */
async function acceptCredit(em: Em, d: any, asked: string | null, now: Date): Promise<{ amount: string; note: IssueCreditNoteCommand }> {
  const scale = minorUnits(d.currency);
  const disputed = dec(String(d.amount));
  const amount = asked == null ? disputed : disputeAmount(asked, d.currency, 'input.amount', 'A credited amount');
  if (amount.gt(disputed)) throw badInput('input.amount', `The dispute is for ${disputed.toFixed(scale)} ${d.currency}; at most that is credited (less: partly upheld)`, 'DISPUTE_CREDIT_EXCEEDS_DISPUTE');
  // A usage record's: no more than is left of it, its rerate corrections billed since it was
  // disputed included (one billed while this dispute was open reduced it already; review 19).
  if (d.usage_record_id) {
    const billed = await recordAsBilled(em, d.usage_record_id, d.billing_account_id);
    if (billed && billed.invoice.id === d.invoice_id) {
      const { room } = await recordRoom(em, billed.invoice, d.usage_record_id, billed.line, billed.charge, d.id);
      if (amount.gt(room)) throw new DomainError('DISPUTE_CREDIT_EXCEEDS_CREDITABLE', `Only ${room.toFixed(scale)} ${d.currency} of usage record ${d.usage_record_id} can still be credited: a re-rating correction or another dispute gave back the rest`, { field: 'input.amount', creditable: room.toFixed(scale) }, 'BAD_USER_INPUT');
    }
  }
  return {
    amount: amount.toFixed(scale),
    note: {
      invoiceId: d.invoice_id,
      kind: 'CREDIT',
      reason: `Dispute ${d.id} upheld: ${d.reason}`.slice(0, 300),
      lines: await creditLines(em, d, amount.toFixed(scale)),
      idempotencyKey: disputeCreditKey(d.id),
      now,
    },
  };
}

/**
 * Takes a closed dispute off the hold and says so (dispute.resolved). `invoiceState`: the state the
 * invoice is released to (disputeInvoiceState) before the closing credit note, passed by callers that
 * issued one (a decision, a covering note); without it, read here once the hold went down (a
 * withdrawal, a re-rate correction credited on the next invoice: nothing credited on this one).
 * An agent's ACCEPT still waiting for approval is closed FAILED (closeDisputeApprovals), except the
 * request `approvalRequestId` whose approval is closing it. `ownCreditNote`: `creditNoteId` was issued by this
 * dispute's decision; the event then says what it did (its creditnote.created is not told to the customer apart).
 */
export async function close(em: Em, d: any, status: string, now: Date, extra: { creditedAmount?: string | null; creditNoteId?: string | null; ownCreditNote?: boolean; decidedBy: string; decisionNote?: string | null; invoiceState?: string | null; approvalRequestId?: string | null }): Promise<void> {
  await closeDisputeApprovals(em, d.id, status, extra.decidedBy, now, extra.approvalRequestId);
  const before = await sql(em)('invoice').where({ id: d.invoice_id }).first('number');
  await releaseDisputeAmount(em, d.invoice_id, String(d.amount), now, `dispute ${d.id} ${status.toLowerCase()}`);
  const invoiceState = extra.invoiceState !== undefined ? extra.invoiceState : await disputeInvoiceState(em, d.invoice_id);
  const invoiceNumber = before?.number ?? null;
  // An invoice never issued (a draft's staff hold, closed by a decision, resolveDispute or regenerating
  // it): the customer was never told it opened, so nothing closing it either (review 12).
  if (invoiceNumber == null) return;
  const creditNote = extra.ownCreditNote && extra.creditNoteId ? await creditNoteOfDecision(em, extra.creditNoteId, d) : null;
  await enqueueEvents(em, 'disputeResolved', now, [
    {
      subject: d.id,
      key: [d.id, 'resolved'],
      data: {
        disputeId: d.id, invoiceId: d.invoice_id, billingAccountId: d.billing_account_id, status, amount: dec(String(d.amount)).toFixed(minorUnits(d.currency)), currency: d.currency,
        creditedAmount: extra.creditedAmount ?? null, creditNoteId: extra.creditNoteId ?? null, decidedBy: extra.decidedBy, decisionNote: extra.decisionNote ?? null, invoiceNumber, invoiceState, creditNote,
      },
    },
  ]);
}

/**
 * What a decision's own credit note did, read after the dispute's hold went down: what the invoice owes
 * then counts a partly upheld dispute's rest as due again, and what account credit paid of it on release.
 */
async function creditNoteOfDecision(em: Em, creditNoteId: string, d: any): Promise<DisputeCreditNote | null> {
  const note = await sql(em)('credit_note').where({ id: creditNoteId }).first('number');
  if (!note) return null;
  const [credit] = await rows<{ amount: string | null }>(em, `select sum(amount) as amount from account_credit_entry where source = 'CREDIT_NOTE' and source_id = ?`, [creditNoteId]);
  const due = await invoiceDue(em, d.invoice_id);
  return { number: note.number, creditAmount: dec(String(credit?.amount ?? '0')).toFixed(minorUnits(d.currency)), amountDue: due?.amountDue ?? '0', dueDate: due?.dueDate ?? null };
}

/**
 * The credit note's lines: the disputed line, or (a dispute of the invoice or a usage record) the
 * invoice's lines in order, each up to what it can still be credited.
 */
async function creditLines(em: Em, d: any, amount: string): Promise<{ invoiceLineId: string; amount: string }[]> {
  const scale = minorUnits(d.currency);
  const lines = await sql(em)('invoice_line').where({ invoice_id: d.invoice_id }).modify((q) => (d.invoice_line_id ? q.where({ id: d.invoice_line_id }) : q)).orderBy('position');
  // A one-off charge's line less what refunds naming the charge gave back (prepareCreditNote weighs them too).
  const apart = await givenBackApart(em, d.invoice_id);
  // A dispute of the invoice (or a usage record) leaves each line's open line disputes their room
  // first (review 10: it took their line, and they could no longer be credited); only what does
  // not fit otherwise takes that room too.
  const reserved = new Map<string, Decimal>();
  if (!d.invoice_line_id) {
    const open = await rows<{ invoice_line_id: string; total: string }>(em, `select invoice_line_id, sum(amount) as total from dispute where invoice_id = ? and invoice_line_id is not null and status in ('OPEN', 'IN_REVIEW') and id <> ? group by invoice_line_id`, [d.invoice_id, d.id]);
    for (const o of open) reserved.set(o.invoice_line_id, dec(String(o.total)));
  }
  let left = dec(amount);
  const taken = new Map<string, Decimal>();
  for (const respect of [true, false]) {
    for (const l of lines) {
      if (!left.gt(0)) break;
      const already = taken.get(l.id) ?? dec('0');
      const creditable = lineCreditable(String(l.gross_amount), String(l.credited_amount), apart.get(l.id)?.all ?? '0').minus(respect ? (reserved.get(l.id) ?? dec('0')) : dec('0')).minus(already);
      if (!creditable.gt(0)) continue;
      const take = creditable.lt(left) ? creditable : left;
      taken.set(l.id, already.plus(take));
      left = left.minus(take);
    }
    if (reserved.size === 0) break;
  }
  const out = lines.filter((l: any) => taken.has(l.id)).map((l: any) => ({ invoiceLineId: l.id as string, amount: taken.get(l.id)!.toFixed(scale) }));
  if (left.gt(0)) {
    const can = dec(amount).minus(left).toFixed(scale);
    throw new DomainError('DISPUTE_CREDIT_EXCEEDS_CREDITABLE', `Only ${can} ${d.currency} of ${d.invoice_line_id ? 'the line' : 'the invoice'} can still be credited`, { field: 'input.amount', creditable: can }, 'BAD_USER_INPUT');
  }
  return out;
}

/** The customer (own account) or staff takes an open dispute back. `changed`: false when it was withdrawn already. */
export async function withdrawDispute(em: Em, c: { disputeId: string; caller: Caller; now: Date }): Promise<{ changed: boolean; invoiceId: string; billingAccountId: string }> {
  const found = await findDispute(em, c.disputeId);
  await requireAccount(em, c.caller, found.billing_account_id, 'withdraw this dispute', () => notFound('Dispute', c.disputeId, 'input.disputeId'));
  const d = await lockDispute(em, found);
  const answer = { invoiceId: d.invoice_id, billingAccountId: d.billing_account_id };
  if (d.status === 'WITHDRAWN') return { changed: false, ...answer };
  if (!isOpenDispute(d.status)) throw conflict('DISPUTE_ALREADY_DECIDED', `Dispute ${d.id} is ${d.status} already`, { field: 'input.disputeId', status: d.status });
  // A staff hold (disputeInvoice) is staff's to close: the customer taking it back released the hold staff put on.
  if (isStaffHold(d) && !isStaff(c.caller)) throw conflict('DISPUTE_OPENED_BY_STAFF', `Dispute ${d.id} is a hold staff put on the invoice; staff close it`, { field: 'input.disputeId' });
  await sql(em)('dispute').where({ id: d.id }).update({ status: 'WITHDRAWN', decided_by: c.caller.subject.slice(0, 200), decided_at: c.now, updated_at: c.now });
  await close(em, d, 'WITHDRAWN', c.now, { decidedBy: c.caller.subject });
  return { changed: true, ...answer };
}

/**
 * The workflow's first step: runs the rules once and stores the assessment. A rule that accepts
 * decides ACCEPT at once (decidedBy auto:<rule>); otherwise IN_REVIEW, due after the policy's review
 * SLA — also when the accepting rule's credit is refused (stored as REVIEW with the rule and
 * `autoAcceptRefused` { code, message }). A dispute assessed (or closed) already is answered as it
 * is. `decided`: this call accepted it.
 */
export async function assessDispute(em: Em, c: { disputeId: string; caller: Caller; now: Date }, rules: DisputeRules, policy: DisputePolicy): Promise<{ decided: boolean; invoiceId: string; billingAccountId: string }> {
  requireSystem(c.caller, 'assess disputes');
  const found = await findDispute(em, c.disputeId);
  const answer = { decided: false, invoiceId: found.invoice_id, billingAccountId: found.billing_account_id };
  if (found.status !== 'OPEN' || found.assessment != null) return answer;
  const d = await lockDispute(em, found);
  if (d.status !== 'OPEN' || d.assessment != null) return answer;
  const k = sql(em);
  const invoice = await k('invoice').where({ id: d.invoice_id }).first();
  const line = d.invoice_line_id ? await k('invoice_line').where({ id: d.invoice_line_id }).first() : null;
  const [accepted] = await rows<{ n: string }>(em, `select count(*) as n from dispute where billing_account_id = ? and status = 'ACCEPTED' and decided_at > ? and id <> ? and (idempotency_key is null or idempotency_key not like ?)`, [d.billing_account_id, new Date(c.now.getTime() - 365 * 86_400_000), d.id, `${STAFF_HOLD_KEY_PREFIX}%`]);
  const target: DisputeTarget = d.usage_record_id ? 'USAGE_RECORD' : d.invoice_line_id ? 'LINE' : 'INVOICE';
  const facts = assessmentFacts({ amount: String(d.amount), invoiceTotal: String(invoice.total), currency: d.currency, target, lineKind: line ? await lineKind(em, line) : null, acceptedDisputesLast365Days: Number(accepted?.n ?? 0) });
  let assessment: Assessment = await assess(rules, facts);
  // A staff hold (disputeInvoice) goes to review: the rules settle customers' disputes, staff decide their own.
  if (assessment.decision === 'ACCEPT' && isStaffHold(d)) assessment = { decision: 'REVIEW', rule: assessment.rule, facts, autoAcceptRefused: { code: 'DISPUTE_OPENED_BY_STAFF', message: 'Opened by staff with disputeInvoice: an agent decides it' } };
  if (assessment.decision === 'ACCEPT') {
    await k('dispute').where({ id: d.id }).update({ assessment: JSON.stringify(assessment), updated_at: c.now });
    // The rule's credit may no longer fit (the line was credited apart since the dispute opened):
    // refused, it leaves nothing behind (savepoint) and the dispute goes to an agent like any other,
    // rather than failing the workflow's first step and staying OPEN with nobody watching.
    await k.raw('savepoint dispute_auto_accept');
    try {
      await decide(em, d, { decision: 'ACCEPT', amount: null, note: `Accepted by the auto-assessment rule ${assessment.rule}`, by: `auto:${assessment.rule}`, now: c.now });
      await k.raw('release savepoint dispute_auto_accept');
      return { ...answer, decided: true };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      await k.raw('rollback to savepoint dispute_auto_accept');
      assessment = { decision: 'REVIEW', rule: assessment.rule, facts, autoAcceptRefused: { code: error.code, message: error.message } };
    }
  }
  await k('dispute').where({ id: d.id }).update({ assessment: JSON.stringify(assessment), status: 'IN_REVIEW', review_due_at: reviewDueAt(policy, c.now), updated_at: c.now });
  return answer;
}

/** An invoice line's kind as the rules see it: a dunning late fee (one-off LATE_FEE) is LATE_FEE. */
async function lineKind(em: Em, line: any): Promise<string> {
  if (line.kind !== 'ONE_OFF' || !line.source_ref) return line.kind;
  const oneOff = await sql(em)('one_off_charge').where({ id: line.source_ref }).first('code');
  return oneOff?.code === 'LATE_FEE' ? 'LATE_FEE' : line.kind;
}

/**
 * escalationLevel = max(current, level) on an open dispute (dispute.escalated once per level), due
 * again after the policy's escalation SLA; a closed one is left alone.
 */
export async function escalateDispute(em: Em, c: { disputeId: string; level: number; caller: Caller; now: Date }, policy: DisputePolicy): Promise<void> {
  requireSystem(c.caller, 'escalate disputes');
  if (!Number.isInteger(c.level) || c.level < 0) throw badInput('input.level', 'An escalation level is a whole number from 0', 'DISPUTE_LEVEL_INVALID');
  await findDispute(em, c.disputeId);
  const d = await sql(em)('dispute').where({ id: c.disputeId }).forUpdate().first();
  if (!isOpenDispute(d.status) || c.level <= Number(d.escalation_level)) return;
  await sql(em)('dispute').where({ id: d.id }).update({ escalation_level: c.level, review_due_at: reviewDueAt(policy, c.now, true), updated_at: c.now });
  await enqueueEvents(em, 'disputeEscalated', c.now, [
    { subject: d.id, key: [d.id, 'escalated', String(c.level)], data: { disputeId: d.id, invoiceId: d.invoice_id, billingAccountId: d.billing_account_id, escalationLevel: c.level, previousLevel: Number(d.escalation_level), status: d.status } },
  ]);
}

/** The decision note of a dispute closed by resolveDispute: subscribers sends it to the customer as the reason. */
export const RESOLVED_WITH_INVOICE_NOTE = 'Your dispute was closed when we reviewed the whole invoice; any correction appears as a separate credit note.';

/**
 * resolveDispute ended the invoice's dispute as a whole (its hold is released by the caller): its
 * open Disputes close REJECTED — nothing credited by them; a credit, if any, was a separate credit
 * note — with a note written for the customer (RESOLVED_WITH_INVOICE_NOTE); how it was closed stays
 * internal, in decidedBy (`resolveDispute:<caller>`). `invoiceState`: the state the invoice was
 * released to (dispute.resolved; SETTLED: paid, nothing is due again). Returns their ids.
 */
export async function closeOpenDisputesOfInvoice(em: Em, invoiceId: string, c: { by: string; now: Date; invoiceState: string | null }): Promise<string[]> {
  const k = sql(em);
  const open = await k('dispute').where({ invoice_id: invoiceId }).whereIn('status', ['OPEN', 'IN_REVIEW']).orderBy('created_at').forUpdate();
  if (open.length === 0) return [];
  const note = RESOLVED_WITH_INVOICE_NOTE;
  const by = (c.by === 'resolveDispute' ? c.by : `resolveDispute:${c.by}`).slice(0, 200);
  await k('dispute').whereIn('id', open.map((d: any) => d.id)).update({ status: 'REJECTED', decided_by: by, decision_note: note, decided_at: c.now, updated_at: c.now });
  for (const d of open) await closeDisputeApprovals(em, d.id, 'REJECTED', by, c.now);
  const invoiceNumber = (await k('invoice').where({ id: invoiceId }).first('number'))?.number ?? null;
  // A draft's (staff) holds: the customer was never told they opened (review 12; see close()).
  if (invoiceNumber != null) await enqueueEvents(em, 'disputeResolved', c.now, open.map((d: any) => ({
    subject: d.id,
    key: [d.id, 'resolved'],
    data: { disputeId: d.id, invoiceId: d.invoice_id, billingAccountId: d.billing_account_id, status: 'REJECTED', amount: dec(String(d.amount)).toFixed(minorUnits(d.currency)), currency: d.currency, creditedAmount: null, creditNoteId: null, decidedBy: by, decisionNote: note, invoiceNumber, invoiceState: c.invoiceState },
  })));
  return open.map((d: any) => d.id as string);
}

/** Open disputes whose workflow never started (the start after openDispute failed): the due-date job starts them. */
export async function disputesWithoutWorkflow(em: Em, limit: number): Promise<string[]> {
  return sql(em)('dispute').whereNull('workflow_started_at').whereIn('status', ['OPEN', 'IN_REVIEW']).orderBy('created_at').limit(limit).pluck('id');
}

export async function markWorkflowStarted(em: Em, disputeId: string, now: Date): Promise<void> {
  await sql(em)('dispute').where({ id: disputeId }).whereNull('workflow_started_at').update({ workflow_started_at: now, workflow_runs: 1 });
}

/**
 * Open disputes whose newest workflow run was started, and last looked at, at least `olderThan`
 * ago (least recently looked at first, at most `limit`): the due-date job asks whether it still runs.
 */
export async function disputesToWatch(em: Em, olderThan: Date, limit: number): Promise<{ id: string; run: number }[]> {
  const found = await rows<{ id: string; workflow_runs: number }>(
    em,
    `select id, workflow_runs from dispute
      where workflow_started_at is not null and status in ('OPEN', 'IN_REVIEW') and coalesce(workflow_checked_at, workflow_started_at) <= ?
      order by coalesce(workflow_checked_at, workflow_started_at), id limit ?`,
    [olderThan, limit],
  );
  return found.map((d) => ({ id: d.id, run: Math.max(1, Number(d.workflow_runs)) }));
}

/** The dispute's `run`-th workflow was looked at (still running) or started now (`restarted`: it is the newest). */
export async function markWorkflowChecked(em: Em, disputeId: string, run: number, now: Date, restarted = false): Promise<void> {
  const q = sql(em)('dispute').where({ id: disputeId });
  if (!restarted) return void (await q.update({ workflow_checked_at: now }));
  await q.where('workflow_runs', '<', run).update({ workflow_runs: run, workflow_started_at: now, workflow_checked_at: now });
}

/** The newest workflow run of each dispute (1 when none is recorded), for pokes. */
export async function disputeWorkflowRuns(em: Em, disputeIds: string[]): Promise<Map<string, number>> {
  if (disputeIds.length === 0) return new Map();
  const found = await sql(em)('dispute').whereIn('id', disputeIds).select('id', 'workflow_runs');
  return new Map(found.map((d: any) => [d.id as string, Math.max(1, Number(d.workflow_runs))]));
}
