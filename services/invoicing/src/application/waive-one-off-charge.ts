// Waiving a one-off charge by its id (addOneOffCharge's `id`, the caller's idempotency key): the dunning
// workflow waives its late fee (`dunning-<invoiceId>:late-fee`) when the customer paid while the fee
// step was still retrying and the fee had reached invoicing anyway (an answer lost, an attempt that
// completed as the step was cancelled). One call both asks and waives, under the account's credit
// lock and the charge's row lock, so it is exactly once:
// - no such charge yet: WAIVED_IN_ADVANCE — the id is kept as waived (`one_off_charge_waiver`), so the
//   charge posted under it later (the request the worker gave up on, committing after the waiver) is
//   recorded waived and never billed, and addOneOffCharge answers `waived`; an id no charge could
//   have (longer than the column) is NOT_FOUND, nothing recorded;
// - not billed yet: WAIVED — marked waived, the bill run never bills it, and the same id added again
//   (a late retry of the fee) finds it and adds nothing;
// - billed on an issued invoice: CREDITED — a CREDIT note (key `waive:<id>`) gives the line back (paid
//   already: account credit), and the charge is marked waived with the note's id;
// - billed on a draft: CONFLICT ONE_OFF_CHARGE_ON_DRAFT (regenerate the draft after it is waived is
//   staff's call; nothing changes).
// Waived before: answered as it was (WAIVED_IN_ADVANCE, WAIVED or CREDITED with the same note), nothing
// moves again. The waiver and addOneOffCharge of one id queue on the id's lock (lockOneOffChargeId), so
// whichever comes second sees the other: never a charge posted past a waiver that did not see it. The
// waiver of a charge takes its account's credit lock before the id's (lockChargeAndAccount).
import { badInput, conflict, dec, minorUnits } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { isDraft, type InvoiceState } from '../domain/lifecycle';
import { lockAccountCredit } from './credit';
import { lockOneOffChargeId, waiverInAdvance } from './one-off-charge-waivers';
import { issueCreditNote } from './payments';
import { sql } from './sql';

export type OneOffChargeWaiverOutcome = 'NOT_FOUND' | 'WAIVED_IN_ADVANCE' | 'WAIVED' | 'CREDITED';

export const WAIVER_NOTE_KEY_PREFIX = 'waive:';

/** one_off_charge.id's width: an id longer than this is no charge's, now or later. */
const ONE_OFF_CHARGE_ID_MAX = 80;

export async function waiveOneOffCharge(em: Em, c: { id: string; reason: string; now: Date }): Promise<{ outcome: OneOffChargeWaiverOutcome; creditNoteId: string | null; invoiceId: string | null }> {
  const reason = (c.reason ?? '').trim();
  if (!reason) throw badInput('input.reason', 'Say why the charge is waived', 'WAIVER_REASON_MISSING');
  if (reason.length > 300) throw badInput('input.reason', 'A reason has at most 300 characters', 'WAIVER_REASON_TOO_LONG');
  if (!c.id) throw badInput('input.id', 'Name the one-off charge (its id)', 'ONE_OFF_CHARGE_ID_MISSING');
  const k = sql(em);
  if (c.id.length > ONE_OFF_CHARGE_ID_MAX || c.id.includes('\u0000')) return { outcome: 'NOT_FOUND', creditNoteId: null, invoiceId: null };
  const seen = await lockChargeAndAccount(em, c.id);
  if (await waiverInAdvance(em, c.id)) return { outcome: 'WAIVED_IN_ADVANCE', creditNoteId: null, invoiceId: null };
  if (!seen) {
    await k('one_off_charge_waiver').insert({ id: c.id, reason, waived_at: c.now });
    return { outcome: 'WAIVED_IN_ADVANCE', creditNoteId: null, invoiceId: null };
  }
  const charge = await k('one_off_charge').where({ id: c.id }).forUpdate().first();
  if (charge.waived_at) return { outcome: charge.waived_credit_note_id ? 'CREDITED' : 'WAIVED', creditNoteId: charge.waived_credit_note_id ?? null, invoiceId: charge.invoice_id ?? null };
  if (!charge.invoice_id) {
    await k('one_off_charge').where({ id: c.id }).update({ waived_at: c.now, waived_reason: reason });
    return { outcome: 'WAIVED', creditNoteId: null, invoiceId: null };
  }
  const invoice = await k('invoice').where({ id: charge.invoice_id }).first();
  if (isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from })) {
    throw conflict('ONE_OFF_CHARGE_ON_DRAFT', `One-off charge ${c.id} is on draft invoice ${invoice.id}: regenerate or void the draft, then waive it`, { field: 'input.id' });
  }
  const line = await k('invoice_line').where({ invoice_id: invoice.id, source_ref: c.id }).first();
  const left = line ? dec(String(line.gross_amount)).minus(String(line.credited_amount)) : dec('0');
  let creditNoteId: string | null = null;
  if (line && left.gt(0)) {
    creditNoteId = await issueCreditNote(
      em,
      { invoiceId: invoice.id, kind: 'CREDIT', reason: `Waived: ${reason}`.slice(0, 300), lines: [{ invoiceLineId: line.id, amount: left.toFixed(minorUnits(invoice.currency)) }], idempotencyKey: `${WAIVER_NOTE_KEY_PREFIX}${c.id}`, now: c.now },
      null, // a CREDIT note refunds nothing: no payment provider
    );
  }
  await k('one_off_charge').where({ id: c.id }).update({ waived_at: c.now, waived_reason: reason, waived_credit_note_id: creditNoteId });
  return { outcome: 'CREDITED', creditNoteId, invoiceId: invoice.id };
}

/**
 * Takes the id's lock, and first the credit lock of the charge's account if there is a charge (a
 * credit note may bring account credit, and a subscribers batch bills a closed account under the
 * credit lock, then posts its one-offs under their ids' locks: the same order). Answers the charge's
 * account, or nothing when no charge has the id. A charge that commits between the look and the id's
 * lock would leave the credit lock second, against such a batch a deadlock: then the id's lock is let
 * go (a transaction advisory lock taken after a savepoint goes with a rollback to it) and both are
 * taken again in order.
 */
async function lockChargeAndAccount(em: Em, id: string): Promise<{ billing_account_id: string } | undefined> {
  const k = sql(em);
  const before = await k('one_off_charge').where({ id }).first('billing_account_id');
  if (before) {
    await lockAccountCredit(em, before.billing_account_id);
    await lockOneOffChargeId(em, id);
    return before;
  }
  await k.raw('savepoint waiver_id_lock');
  await lockOneOffChargeId(em, id);
  const arrived = await k('one_off_charge').where({ id }).first('billing_account_id');
  if (!arrived) {
    await k.raw('release savepoint waiver_id_lock');
    return undefined;
  }
  await k.raw('rollback to savepoint waiver_id_lock');
  await lockAccountCredit(em, arrived.billing_account_id);
  await lockOneOffChargeId(em, id);
  return arrived;
}
