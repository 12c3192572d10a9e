// Autopay and money a refund makes owed again (refundPayment gives back money paid on an invoice without
// lowering it: staff mean that money is owed again). Autopay charges an invoice once, on its due date
// (collections.ts, attempt 1). The rule: that charge takes what the invoice owes, less the money refunded
// from it on or after its due date — what it owed on its due date less what was paid or credited since.
// Money refunded before the due date is owed on it and charged like the rest. Money refunded on or after it
// is never charged to the card automatically: the refund was made to give it back, and charging the same
// card at the next pass would undo it (the customer would see a refund and a charge). It is dunned, and the
// customer is told to pay it. So:
//  - reopened or partly refunded before its due date: the due-date attempt charges all it owes;
//  - refunded on or after it, once the due-date attempt was made: no new attempt (dunned, as ever);
//  - refunded on or after it before that attempt (a pass running behind, or an invoice settled on its due
//    date: no row is written for it, and the next pass would take it for one just due): the attempt charges
//    what it owed before those refunds (a partly paid invoice: the rest it owed); when that is nothing, the
//    attempt is recorded REOPENED_LATE (nothing charged; dunning starts as after any first attempt) — by the
//    refund itself when it reopens a settled invoice, so it is never picked up as due.
// Money paid after such a refund pays what was owed on the due date first (it lowers the due-date charge).
import { dec, minorUnits, type Decimal, type RefundCreatedData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { outstanding } from '../domain/lifecycle';
import { rows, sql } from './sql';

/** collections.ts's due-date attempt. */
const DUE = 1;

type DueInvoice = { id: string; due_date: Date | string | null };

/** The account has autopay (a token registered here, or subscribers said it is on). */
async function hasAutopay(em: Em, billingAccountId: string): Promise<boolean> {
  const a = await sql(em)('billing_account').where({ id: billingAccountId }).first('autopay', 'autopay_token');
  return !!a && (a.autopay_token != null || Boolean(a.autopay));
}

/**
 * Money given back from what was paid on the invoice on or after its due date: refundPayment's refunds of
 * its payments, less the part each took out of the payment's kept credit (its REFUND credit entry). A REFUND
 * credit note's refunds are not counted: the note lowers the invoice by as much, so nothing is owed again.
 */
async function refundedSinceDueDate(em: Em, invoice: DueInvoice): Promise<Decimal> {
  if (!invoice.due_date) return dec('0');
  const [{ amount }] = await rows<{ amount: string }>(
    em,
    `select coalesce(sum(r.amount + coalesce(e.amount, 0)), 0)::text as amount
       from refund r join payment p on p.id = r.payment_id
       left join account_credit_entry e on e.billing_account_id = p.billing_account_id and e.source = 'REFUND' and e.source_id = r.id
      where p.invoice_id = ? and r.credit_note_id is null and r.created_at >= ?`,
    [invoice.id, new Date(invoice.due_date)],
  );
  return dec(amount);
}

/**
 * What the due-date attempt charges of `owed` (what autopay may take of the invoice otherwise: what it
 * owes, less what disputes hold): `owed` less the money refunded on or after its due date, at least zero;
 * and that refunded money (zero: the rule takes nothing off).
 */
export async function dueDateCharge(em: Em, invoice: DueInvoice, owed: Decimal): Promise<{ amount: Decimal; refunded: Decimal }> {
  const refunded = await refundedSinceDueDate(em, invoice);
  const amount = owed.minus(refunded);
  return { amount: amount.gt(0) ? amount : dec('0'), refunded };
}

/**
 * A refund just reopened a settled invoice (in its transaction, the invoice locked): on or after its due
 * date, with no due-date attempt, it gets its attempt 1 as REOPENED_LATE at once, as the due-date attempt
 * would record it (all it owes was refunded since: nothing to charge), so no pass ever takes it for one
 * just due. Already there: nothing written. Only for autopay accounts.
 */
export async function noAutopayOfReopenedAfterDueDate(em: Em, invoice: DueInvoice & { billing_account_id: string }, now: Date): Promise<void> {
  if (!invoice.due_date || new Date(invoice.due_date).getTime() > now.getTime()) return;
  if (!(await hasAutopay(em, invoice.billing_account_id))) return;
  const after = await sql(em)('invoice').where({ id: invoice.id }).first();
  if ((await dueDateCharge(em, invoice, owedToAutopay(after))).amount.gt(0)) return;
  await sql(em)('autopay_attempt')
    .insert({ invoice_id: invoice.id, attempt: DUE, billing_account_id: invoice.billing_account_id, state: 'REOPENED_LATE', attempted_at: now })
    .onConflict(['invoice_id', 'attempt'])
    .ignore();
}

/** What it owes, less what a dispute holds on an invoice held for one (collections.ts charges no disputed money). */
function owedToAutopay(invoice: any): Decimal {
  const owed = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) });
  return invoice.state === 'ON_HOLD' ? owed.minus(String(invoice.amount_disputed ?? '0')) : owed;
}

/**
 * What autopay does with what an invoice owes again after a refund, for the refund's customer message
 * (RefundCreatedData): 'DUE_DATE' — its due-date charge has not been made, so the card on file is charged
 * then; with `autopayAmount` when money refunded on or after the due date is left out of that charge (the
 * card is charged that much, the rest is the customer's to pay); 'NONE' — the due-date attempt was made, or
 * all it owes was refunded on or after the due date: not charged automatically, dunned; nothing for an
 * account without autopay.
 */
export async function autopayOfReopened(em: Em, invoiceId: string): Promise<Pick<RefundCreatedData, 'autopayCharge' | 'autopayAmount'>> {
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first();
  if (!invoice || !(await hasAutopay(em, invoice.billing_account_id))) return {};
  if (await sql(em)('autopay_attempt').where({ invoice_id: invoiceId, attempt: DUE }).first('state')) return { autopayCharge: 'NONE' };
  const { amount, refunded } = await dueDateCharge(em, invoice, owedToAutopay(invoice));
  if (!refunded.gt(0)) return { autopayCharge: 'DUE_DATE' };
  return amount.gt(0) ? { autopayCharge: 'DUE_DATE', autopayAmount: amount.toFixed(minorUnits(invoice.currency)) } : { autopayCharge: 'NONE' };
}
