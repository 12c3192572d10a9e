// Invoice state changes one at a time: validate/send, hold/release (disputes), void, regenerate.
import { DomainError, conflict, dec, minorUnits, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { assertTransition, outstanding, settlementState, type InvoiceState } from '../domain/lifecycle';
import { billAccounts, issueInvoices, type AccountRow, type BillingDeps } from './bill-accounts';
import { closeCreditNoteApprovals } from './approvals';
import { applyAccountCredit, lockCreditOfInvoice } from './credit';
import { close as closeDispute, closeOpenDisputesOfInvoice } from './disputes';
import { creditClosureOfIssued } from './closure-credit';
import { lockAccountAndCredit } from './lock-order';
import { enqueueEvents, rows, sql } from './sql';
import { tellDisputesClosedAfterCommit } from './disputes-closed-by-bill';

export async function lockInvoice(em: Em, invoiceId: string, field = 'input.invoiceId'): Promise<any> {
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).forUpdate().first();
  if (!invoice) throw notFound('Invoice', invoiceId, field);
  return invoice;
}

export async function stateChanged(em: Em, invoice: { id: string; billing_account_id: string }, from: string, to: string, now: Date, reason: string): Promise<void> {
  if (from === to) return;
  await sql(em)('invoice').where({ id: invoice.id }).update({ state: to, updated_at: now });
  await enqueueEvents(em, 'customerBillStateChanged', now, [
    { subject: invoice.id, key: [invoice.id, from, to, now.toISOString()], data: { invoiceId: invoice.id, billingAccountId: invoice.billing_account_id, from, to, reason } },
  ]);
}

/** NEW → VALIDATED → SENT (numbered) for one draft; one billed past its account's closure credited the days after it (closure-credit.ts). */
export async function issueInvoice(em: Em, invoiceId: string, now: Date, deps: BillingDeps): Promise<void> {
  // Issuing lets the account's credit pay the draft (and may credit it): the account's billing and credit
  // locks before the draft (lock-order.ts), as a staff hold takes the credit lock before it; taken after
  // the draft, the two deadlocked (test/issue-draft-dispute-lock-order.test.ts).
  const peek = await sql(em)('invoice').where({ id: invoiceId }).first('billing_account_id');
  if (peek) await lockAccountAndCredit(em, peek.billing_account_id);
  const invoice = await lockInvoice(em, invoiceId);
  // A held draft is released by resolving its dispute, not by issuing it (that did nothing, quietly).
  if (invoice.state === 'ON_HOLD') throw conflict('INVOICE_ON_HOLD', `Invoice ${invoice.id} is on hold for a dispute; resolve the dispute before issuing it`, { field: 'input.invoiceId' });
  assertTransition(invoice.state as InvoiceState, 'VALIDATED');
  await issueInvoices(em, [invoiceId], now, async () => {
    const closure = await creditClosureOfIssued(em, invoiceId, deps, now);
    return new Map(closure ? [[invoiceId, closure]] : []);
  });
}

// disputeInvoice (a staff hold) opens a Dispute: dispute-invoice.ts.

/**
 * Ends a dispute (resolved for or against the customer: credit it with a credit note first if upheld).
 * The invoice's open Disputes (openDispute) end with it: closed REJECTED with a note for the customer
 * (the whole invoice was reviewed; a correction, if any, is a separate credit note; decidedBy
 * `resolveDispute:<caller>`), so none stays open on a released invoice. Returns their ids (their
 * workflows are told).
 */
export async function resolveDispute(em: Em, c: { invoiceId: string; now: Date; by?: string }): Promise<string[]> {
  // The released invoice may take the account's credit: credit lock first (lockAccountCredit).
  await lockCreditOfInvoice(em, c.invoiceId);
  const invoice = await lockInvoice(em, c.invoiceId);
  if (invoice.state !== 'ON_HOLD') throw new DomainError('INVOICE_NOT_ON_HOLD', 'The invoice is not on hold', { field: 'input.invoiceId' });
  await releaseHold(em, invoice, c.now, 'dispute resolved');
  // The state it is released to (account credit applied): SETTLED tells the customer nothing is due again.
  const invoiceState = await disputeInvoiceState(em, invoice.id);
  return closeOpenDisputesOfInvoice(em, invoice.id, { by: c.by ?? 'resolveDispute', now: c.now, invoiceState });
}

/**
 * The state an invoice is released to from its dispute hold, as it stands now: a held draft back to
 * NEW/VALIDATED, an issued one by what was paid and credited (SETTLED when paid in full during the
 * hold); an invoice not held, its state. releaseHold releases to it.
 */
export function releasedState(invoice: { state: string; held_from?: string | null; total: unknown; amount_paid: unknown; amount_credited: unknown }): InvoiceState {
  if (invoice.state !== 'ON_HOLD') return invoice.state as InvoiceState;
  if (invoice.held_from === 'NEW' || invoice.held_from === 'VALIDATED') return invoice.held_from;
  return settlementState({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) });
}

/**
 * `invoiceState` of dispute.resolved, on every closing path (a decision, a withdrawal, a covering
 * credit note, a re-rate correction, resolveDispute): the state the invoice is released to
 * (releasedState), read when the caller says — before a decision's own credit note, after the hold
 * went down otherwise. SETTLED tells the customer they had paid: a credit is account credit, nothing
 * is due again (before, a held invoice paid during the hold was sent as ON_HOLD: "due again").
 */
export async function disputeInvoiceState(em: Em, invoiceId: string): Promise<string | null> {
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first('state', 'held_from', 'total', 'amount_paid', 'amount_credited');
  return invoice ? releasedState(invoice) : null;
}

/** Back from ON_HOLD (the invoice locked by the caller, under the credit lock): nothing disputed any more. */
async function releaseHold(em: Em, invoice: any, now: Date, reason: string): Promise<void> {
  const back = releasedState(invoice);
  await sql(em)('invoice').where({ id: invoice.id }).update({ amount_disputed: '0', held_from: null });
  await stateChanged(em, invoice, 'ON_HOLD', back, now, reason);
  // Credit the account kept while the invoice was disputed pays it now, as at issue.
  if (back === 'SENT' || back === 'PARTIALLY_PAID') await applyAccountCredit(em, invoice.billing_account_id, invoice.currency, now);
}

/**
 * An opened Dispute's amount joins the invoice's disputed amount (invoice locked by the caller). An
 * invoice that still owes (or is held already) is held as disputeInvoice holds it — dunning and
 * account credit leave it alone for at most what it owes, since `amount_disputed` (the sum of its
 * open disputes) may exceed that; a paid one (SETTLED: nothing to collect) keeps its state and the
 * dispute just runs. Returns whether the invoice is held (its dunning is to be told).
 */
export async function holdForDispute(em: Em, invoice: any, amount: string, now: Date, reason: string): Promise<boolean> {
  const disputed = dec(String(invoice.amount_disputed ?? '0')).plus(amount).toFixed(minorUnits(invoice.currency));
  const owes = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) }).gt(0);
  if (invoice.state !== 'ON_HOLD' && !owes) {
    await sql(em)('invoice').where({ id: invoice.id }).update({ amount_disputed: disputed, updated_at: now });
    return false;
  }
  if (invoice.state !== 'ON_HOLD') assertTransition(invoice.state, 'ON_HOLD');
  await sql(em)('invoice').where({ id: invoice.id }).update({ amount_disputed: disputed, held_from: invoice.state === 'ON_HOLD' ? invoice.held_from : invoice.state, updated_at: now });
  await stateChanged(em, invoice, invoice.state, 'ON_HOLD', now, `dispute: ${reason}`);
  return true;
}

/**
 * A closed Dispute's amount leaves the invoice's hold; with nothing disputed left the invoice is
 * released as resolveDispute releases it (to SETTLED when it owes nothing any more). An invoice that
 * is not held (a disputed paid one) keeps its state. One still held after it was issued takes the
 * account's credit for what became due. The caller holds the credit lock (lockAccountCredit) for an
 * issued invoice: it is taken before the invoice row.
 */
export async function releaseDisputeAmount(em: Em, invoiceId: string, amount: string, now: Date, reason: string): Promise<void> {
  const invoice = await lockInvoice(em, invoiceId);
  const left = dec(String(invoice.amount_disputed ?? '0')).minus(amount);
  if (left.gt(0) || invoice.state !== 'ON_HOLD') {
    await sql(em)('invoice').where({ id: invoice.id }).update({ amount_disputed: (left.gt(0) ? left : dec('0')).toFixed(minorUnits(invoice.currency)), updated_at: now });
    // Still held after it was issued: what left the hold is due again, and the account's credit pays
    // it now, as a released hold does (review 12; before, it waited for the next credit event).
    if (invoice.state === 'ON_HOLD' && (invoice.held_from === 'SENT' || invoice.held_from === 'PARTIALLY_PAID')) await applyAccountCredit(em, invoice.billing_account_id, invoice.currency, now);
    return;
  }
  await releaseHold(em, invoice, now, reason);
}

/**
 * Dispute `disputeId` (its row locked by the caller) gives back `amount` of its invoice's hold while it
 * stays open: a staff hold lowered (`disputeInvoice`), a re-rate crediting part of it on the next
 * invoice. The hold goes down (releaseDisputeAmount) and the release is recorded, the dispute's next
 * (`dispute_release` 1, 2, …): that money is due again, and autopay charges each release once
 * (collections.ts; the dispute's closing is its release 0). A credit note reducing a dispute credits
 * the money (nothing is due again): not a release.
 */
export async function releaseFromOpenDispute(em: Em, invoiceId: string, disputeId: string, amount: string, now: Date, reason: string): Promise<void> {
  await releaseDisputeAmount(em, invoiceId, amount, now, reason);
  const [{ last }] = await rows<{ last: number }>(em, 'select coalesce(max(seq), 0) as last from dispute_release where dispute_id = ?', [disputeId]);
  await sql(em)('dispute_release').insert({ dispute_id: disputeId, seq: Number(last) + 1, amount, reason: reason.slice(0, 500), released_at: now });
}

/**
 * Voids a draft (NEW, VALIDATED or held before sending) and releases its charges for regeneration.
 * A draft that holds money (a payment not refunded in full, a credit note) is refused: the voided
 * invoice would keep it and a regenerated draft would ask for the full amount again. A draft with
 * an open dispute is refused too (`INVOICE_DISPUTED`): its charges would go to the next invoice
 * without the dispute. Resolve the dispute first, or regenerate the draft (the dispute carries over).
 */
export async function voidInvoice(em: Em, c: { invoiceId: string; now: Date }): Promise<void> {
  const invoice = await lockInvoice(em, c.invoiceId);
  if (invoice.state === 'VOIDED') return;
  assertVoidable(invoice);
  if (invoice.state === 'ON_HOLD' || dec(String(invoice.amount_disputed ?? '0')).gt(0)) {
    throw conflict('INVOICE_DISPUTED', `Invoice ${invoice.id} is disputed (${dec(String(invoice.amount_disputed ?? '0')).toFixed(minorUnits(invoice.currency))} ${invoice.currency}); resolve the dispute before voiding it, or regenerate it (the dispute carries over to the new draft)`, { field: 'input.invoiceId' });
  }
  await voidDraft(em, invoice, c.now);
}

function assertVoidable(invoice: any): void {
  if (invoice.state === 'ON_HOLD' ? !['NEW', 'VALIDATED'].includes(invoice.held_from) : !['NEW', 'VALIDATED'].includes(invoice.state)) {
    throw new DomainError('INVOICE_ILLEGAL_TRANSITION', `A ${invoice.state} invoice cannot be voided; correct it with a credit note`, { field: 'input.invoiceId' });
  }
}

/** Voids a draft, locked by the caller, disputed or not (regenerating carries a dispute over). */
async function voidDraft(em: Em, invoice: any, now: Date): Promise<void> {
  assertVoidable(invoice);
  const k = sql(em);
  const scale = minorUnits(invoice.currency);
  const [held] = await rows<{ n: string; held: string | null }>(em, 'select count(*) as n, sum(amount - refunded_amount) as held from payment where invoice_id = ? and amount > refunded_amount', [invoice.id]);
  if (Number(held?.n ?? 0) > 0) {
    throw conflict('INVOICE_HAS_PAYMENTS', `Invoice ${invoice.id} holds ${dec(String(held!.held)).toFixed(scale)} ${invoice.currency} of payments; refund them before voiding it, or issue it and correct it with a credit note`, { field: 'input.invoiceId' });
  }
  const notes = await k('credit_note').where({ invoice_id: invoice.id }).orderBy('number').pluck('number');
  if (notes.length > 0) {
    throw conflict('INVOICE_HAS_CREDIT_NOTES', `Invoice ${invoice.id} was credited (${notes.join(', ')}); it cannot be voided, correct it with a credit note`, { field: 'input.invoiceId' });
  }
  await k('invoice').where({ id: invoice.id }).update({ voided_at: now });
  await k('unbilled_charge').where({ billing_account_id: invoice.billing_account_id, invoice_id: invoice.id }).update({ invoice_id: null });
  await k('one_off_charge').where({ billing_account_id: invoice.billing_account_id, invoice_id: invoice.id }).update({ invoice_id: null });
  await stateChanged(em, invoice, invoice.state, 'VOIDED', now, 'voided');
  // Pending credit note requests of the voided draft can never run: closed INVOICE_VOIDED (approvals.ts).
  await closeCreditNoteApprovals(em, invoice.id, now);
}

/**
 * Voids a draft and composes a fresh one for the same period from today's facts (left as NEW).
 * A disputed draft's dispute carries over: the new draft is ON_HOLD (from NEW) for the disputed
 * amount, at most its own total, until resolveDispute — regenerating (often the fix the dispute
 * asked for) must not be what quietly ends the customer's dispute.
 */
export async function regenerateInvoice(em: Em, c: { invoiceId: string; now: Date }, deps: BillingDeps): Promise<string> {
  // The account's billing and credit locks before the draft (lock-order.ts): its void releases charges
  // a waiver locks after them, and billing a released rerate adjustment again takes the credit lock,
  // which a staff hold or a dispute decision holds while it waits for the draft. Taken after the draft,
  // each deadlocked (test/regenerate-disputed-draft-lock-order.test.ts).
  const peek = await sql(em)('invoice').where({ id: c.invoiceId }).first('billing_account_id');
  if (peek) await lockAccountAndCredit(em, peek.billing_account_id);
  const invoice = await lockInvoice(em, c.invoiceId);
  if (invoice.state !== 'VOIDED') await voidDraft(em, invoice, c.now);
  const account = (await sql(em)('billing_account').where({ id: invoice.billing_account_id }).first()) as AccountRow;
  const { created } = await billAccounts(em, [{ account, period: { start: new Date(invoice.period_start), end: new Date(invoice.period_end) } }], deps, { now: c.now, autoIssue: false, billRunId: invoice.bill_run_id });
  if (!created[0]) throw new DomainError('INVOICE_REGENERATION_CONFLICT', 'Another live invoice exists for this period', { field: 'input.invoiceId' });
  if (invoice.state === 'ON_HOLD') {
    const fresh = await lockInvoice(em, created[0].invoiceId);
    const scale = minorUnits(fresh.currency);
    const total = dec(String(fresh.total));
    // The open disputes (a draft's are staff holds, disputeInvoice) move to the new draft, oldest
    // first, each at most what the new draft's total leaves; one it leaves nothing stays on the voided
    // draft, closed ACCEPTED without a credit note (the new draft no longer bills it). A hold from
    // before disputes were rows (amount_disputed beyond them) carries over as it did.
    let room = total.gt(0) ? total : dec('0');
    let carried = dec('0');
    const open = await sql(em)('dispute').where({ invoice_id: invoice.id }).whereIn('status', ['OPEN', 'IN_REVIEW']).orderBy([{ column: 'created_at' }, { column: 'id' }]).forUpdate();
    let legacy = dec(String(invoice.amount_disputed));
    const closed: string[] = [];
    for (const d of open) {
      legacy = legacy.minus(String(d.amount));
      const amount = dec(String(d.amount)).lt(room) ? dec(String(d.amount)) : room;
      if (amount.gt(0)) {
        await sql(em)('dispute').where({ id: d.id }).update({ invoice_id: fresh.id, invoice_line_id: null, amount: amount.toFixed(scale), updated_at: c.now });
        carried = carried.plus(amount);
        room = room.minus(amount);
      } else {
        const note = 'The corrected invoice no longer bills this amount.';
        await sql(em)('dispute').where({ id: d.id }).update({ status: 'ACCEPTED', decided_by: 'regenerateInvoice', decision_note: note, decided_at: c.now, updated_at: c.now });
        await closeDispute(em, d, 'ACCEPTED', c.now, { decidedBy: 'regenerateInvoice', decisionNote: note });
        closed.push(d.id);
      }
    }
    tellDisputesClosedAfterCommit(em, deps, closed);
    if (legacy.gt(0)) carried = carried.plus(legacy.lt(room) ? legacy : room);
    // The voided draft holds nothing any more: its disputes moved or closed (review 12).
    await sql(em)('invoice').where({ id: invoice.id }).update({ amount_disputed: '0' });
    // Nothing carried over (the new draft bills nothing to hold): it is a plain NEW draft (review 12;
    // it was held with nothing disputed and could not be issued).
    if (carried.gt(0)) {
      await sql(em)('invoice').where({ id: fresh.id }).update({ amount_disputed: carried.toFixed(scale), held_from: 'NEW' });
      await stateChanged(em, fresh, 'NEW', 'ON_HOLD', c.now, `dispute carried over from ${invoice.id}`);
    }
  }
  return created[0].invoiceId;
}
