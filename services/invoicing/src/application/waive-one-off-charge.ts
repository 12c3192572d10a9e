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
// Refunds naming the charge (addOneOffCharge's `refundsChargeId`, 2027-01): the customer never gets
// more back than the charge. Refunds not billed yet are cancelled with it (waived: never billed; the
// answer names them, `refundsCancelled`); a billed charge is credited for what is left of its line
// after what its refunds on issued invoices gave back (nothing left: CREDITED with no note). A refund
// on a draft is CONFLICT ONE_OFF_CHARGE_REFUND_ON_DRAFT (void the draft, waive, regenerate), one
// billed while its charge is not yet is ONE_OFF_CHARGE_REFUND_BILLED (bill the charge, then waive it:
// what is left is credited). A credit (a refund or any negative one-off) billed on an issued invoice
// was given: waiving it is CONFLICT ONE_OFF_CREDIT_GIVEN (it took nothing back, and freed a refund's
// room for a second refund of the same charge). A refund takes the charge id's lock too, so a waiver
// and a refund of one charge are decided one after the other: the later sees the earlier.
// Waived before: answered as it was (WAIVED_IN_ADVANCE, WAIVED or CREDITED with the same note), nothing
// moves again. The waiver and addOneOffCharge of one id queue on the id's lock (lockOneOffChargeId), so
// whichever comes second sees the other: never a charge posted past a waiver that did not see it. The
// waiver of a charge takes its account's billing lock, then its credit lock, before the id's
// (lockChargeAndAccount): a bill of the account and the waiver are decided one after the other.
import { badInput, conflict, dec, minorUnits } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { lineCreditable } from '../domain/charge-refundable';
import { isDraft, type InvoiceState } from '../domain/lifecycle';
import { lockAccountAndCredit } from './lock-order';
import { lockOneOffChargeId, waiverInAdvance } from './one-off-charge-waivers';
import { issueCreditNote } from './payments';
import { rows, sql } from './sql';

export type OneOffChargeWaiverOutcome = 'NOT_FOUND' | 'WAIVED_IN_ADVANCE' | 'WAIVED' | 'CREDITED';

export const WAIVER_NOTE_KEY_PREFIX = 'waive:';

/** one_off_charge.id's width: an id longer than this is no charge's, now or later. */
const ONE_OFF_CHARGE_ID_MAX = 80;

export interface OneOffChargeWaiver {
  outcome: OneOffChargeWaiverOutcome;
  creditNoteId: string | null;
  invoiceId: string | null;
  /** Refunds of the charge that were not billed yet, cancelled with it (never billed). */
  refundsCancelled: string[];
}

export async function waiveOneOffCharge(em: Em, c: { id: string; reason: string; now: Date }): Promise<OneOffChargeWaiver> {
  const reason = (c.reason ?? '').trim();
  if (!reason) throw badInput('input.reason', 'Say why the charge is waived', 'WAIVER_REASON_MISSING');
  if (reason.length > 300) throw badInput('input.reason', 'A reason has at most 300 characters', 'WAIVER_REASON_TOO_LONG');
  if (!c.id) throw badInput('input.id', 'Name the one-off charge (its id)', 'ONE_OFF_CHARGE_ID_MISSING');
  const k = sql(em);
  const none = { creditNoteId: null, invoiceId: null, refundsCancelled: [] };
  if (c.id.length > ONE_OFF_CHARGE_ID_MAX || c.id.includes('\u0000')) return { outcome: 'NOT_FOUND', ...none };
  const seen = await lockChargeAndAccount(em, c.id);
  if (await waiverInAdvance(em, c.id)) return { outcome: 'WAIVED_IN_ADVANCE', ...none };
  if (!seen) {
    await k('one_off_charge_waiver').insert({ id: c.id, reason, waived_at: c.now });
    return { outcome: 'WAIVED_IN_ADVANCE', ...none };
  }
  const charge = await k('one_off_charge').where({ id: c.id }).forUpdate().first();
  if (charge.waived_at) {
    // As it was: CREDITED when it had been billed (with its note, or none when nothing was left of it).
    const credited = charge.waived_credit_note_id != null || charge.invoice_id != null;
    return { outcome: credited ? 'CREDITED' : 'WAIVED', creditNoteId: charge.waived_credit_note_id ?? null, invoiceId: charge.invoice_id ?? null, refundsCancelled: await refundsCancelledWith(em, charge) };
  }
  const refunds = await refundsOf(em, c.id);
  const open = refunds.filter((r) => r.invoice_id == null && r.waived_at == null);
  const onDraft = refunds.find((r) => r.invoice_id != null && isDraft({ state: r.invoice_state as InvoiceState, heldFrom: r.invoice_held_from }));
  const cancelOpenRefunds = async () => {
    if (open.length === 0) return;
    await k('one_off_charge')
      .whereIn('id', open.map((r) => r.id))
      .update({ waived_at: c.now, waived_reason: `Refunded charge ${c.id} waived: ${reason}`.slice(0, 300) });
  };
  if (!charge.invoice_id) {
    if (onDraft) throw refundOnDraft(c.id, onDraft);
    const billed = refunds.find((r) => r.invoice_id != null);
    if (billed) {
      throw conflict('ONE_OFF_CHARGE_REFUND_BILLED', `Refund ${billed.id} of one-off charge ${c.id} was credited on invoice ${billed.invoice_id} before the charge was billed: waiving the charge would give that refund for nothing. Let the charge be billed, then waive it (what is left of it is credited)`, { field: 'input.id' });
    }
    await cancelOpenRefunds();
    await k('one_off_charge').where({ id: c.id }).update({ waived_at: c.now, waived_reason: reason });
    return { outcome: 'WAIVED', creditNoteId: null, invoiceId: null, refundsCancelled: open.map((r) => r.id) };
  }
  const invoice = await k('invoice').where({ id: charge.invoice_id }).first();
  if (isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from })) {
    throw conflict('ONE_OFF_CHARGE_ON_DRAFT', `One-off charge ${c.id} is on draft invoice ${invoice.id}: regenerate or void the draft, then waive it`, { field: 'input.id' });
  }
  if (dec(String(charge.amount)).isNegative()) {
    throw conflict('ONE_OFF_CREDIT_GIVEN', `One-off credit ${c.id} was given on invoice ${invoice.id}: waiving it takes nothing back (bill a charge for it instead)`, { field: 'input.id' });
  }
  if (onDraft) throw refundOnDraft(c.id, onDraft);
  const line = await k('invoice_line').where({ invoice_id: invoice.id, source_ref: c.id, kind: 'ONE_OFF' }).first();
  // What its refunds on issued invoices gave back already (their lines' gross, positive).
  const given = refunds.filter((r) => r.invoice_id != null).reduce((n, r) => n.minus(dec(String(r.gross_amount ?? r.amount))), dec('0'));
  const left = line ? lineCreditable(String(line.gross_amount), String(line.credited_amount), given) : dec('0');
  await cancelOpenRefunds();
  let creditNoteId: string | null = null;
  if (line && left.gt(0)) {
    creditNoteId = await issueCreditNote(
      em,
      { invoiceId: invoice.id, kind: 'CREDIT', reason: `Waived: ${reason}`.slice(0, 300), lines: [{ invoiceLineId: line.id, amount: left.toFixed(minorUnits(invoice.currency)) }], idempotencyKey: `${WAIVER_NOTE_KEY_PREFIX}${c.id}`, now: c.now },
      null, // a CREDIT note refunds nothing: no payment provider
      undefined,
      { cause: 'CHARGE_WAIVED' }, // the customer is told a charge was waived, never the staff's reason
    );
  }
  await k('one_off_charge').where({ id: c.id }).update({ waived_at: c.now, waived_reason: reason, waived_credit_note_id: creditNoteId });
  return { outcome: 'CREDITED', creditNoteId, invoiceId: invoice.id, refundsCancelled: open.map((r) => r.id) };
}

interface RefundRow {
  id: string;
  amount: string;
  invoice_id: string | null;
  waived_at: Date | null;
  invoice_state: string | null;
  invoice_held_from: string | null;
  gross_amount: string | null;
}

/**
 * The refunds naming the charge that give or will give money back: not waived, or billed (a refund
 * billed and then waived before 2027-01 was given all the same), with their invoice's state and line.
 * Their rows are locked in id order (a waiver of one of them at the same time waits; a new refund of
 * the charge waits on the charge id's lock, held here).
 */
async function refundsOf(em: Em, chargeId: string): Promise<RefundRow[]> {
  return rows<RefundRow>(
    em,
    `select o.id, o.amount, o.invoice_id, o.waived_at, i.state as invoice_state, i.held_from as invoice_held_from, l.gross_amount
       from one_off_charge o
       left join invoice i on i.id = o.invoice_id
       left join invoice_line l on l.invoice_id = o.invoice_id and l.source_ref = o.id and l.kind = 'ONE_OFF'
      where o.refunds_charge_id = ? and (o.waived_at is null or o.invoice_id is not null)
      order by o.id
        for update of o`,
    [chargeId],
  );
}

/** The refunds cancelled when the charge was waived (waived with it, at the same instant, never billed). */
async function refundsCancelledWith(em: Em, charge: { id: string; waived_at: Date }): Promise<string[]> {
  return (await sql(em)('one_off_charge').where({ refunds_charge_id: charge.id, waived_at: charge.waived_at }).whereNull('invoice_id').orderBy('id').select('id')).map((r: { id: string }) => r.id);
}

function refundOnDraft(chargeId: string, r: RefundRow): Error {
  return conflict(
    'ONE_OFF_CHARGE_REFUND_ON_DRAFT',
    `Refund ${r.id} of one-off charge ${chargeId} is on draft invoice ${r.invoice_id}: void that draft, waive the charge (the refund is cancelled with it), then regenerate the draft`,
    { field: 'input.id' },
  );
}

/**
 * Takes the id's lock, and first, if there is a charge, its account's billing lock and then its
 * credit lock: the order billing takes them in (billAccounts, a subscribers batch billing a closed
 * account and then posting its one-offs under their ids' locks), and a credit note may bring account
 * credit. Under the billing lock a bill composing the account's invoice is either committed (the
 * charge is seen billed: credited) or waits for the waiver (the charge is left out as waived); before,
 * a bill that had read the charge as billable billed it after the waiver marked it WAIVED, with nothing
 * giving it back (test/waive-one-off-charge-racing-bill.test.ts). Answers the charge's
 * account, or nothing when no charge has the id. A charge that commits between the look and the id's
 * lock would leave the credit lock second, against such a batch a deadlock: then the id's lock is let
 * go (a transaction advisory lock taken after a savepoint goes with a rollback to it) and both are
 * taken again in order.
 */
async function lockChargeAndAccount(em: Em, id: string): Promise<{ billing_account_id: string } | undefined> {
  const k = sql(em);
  const before = await k('one_off_charge').where({ id }).first('billing_account_id');
  if (before) {
    await lockAccountAndCredit(em, before.billing_account_id);
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
  await lockAccountAndCredit(em, arrived.billing_account_id);
  await lockOneOffChargeId(em, id);
  return arrived;
}
