// Autopay and an invoice a refund reopens (refundPayment gives back money paid on it without lowering
// it: staff mean that money is owed again). Autopay charges an invoice once, on its due date, what it
// owes then (collections.ts, attempt 1). So:
//  - reopened before its due date, the due-date attempt charges what it owes again, like any open invoice;
//  - reopened on or after its due date, the card is not charged for it automatically: the refund was made
//    to give that money back, and charging the same card at the next pass would undo it (and the customer
//    would see a refund and a charge). It is dunned, and the customer is told to pay it.
// An invoice that had no due-date attempt (it was settled when its due date came: nothing was owed, no row
// is written for it) would otherwise be taken for one whose due date just came and be charged at the
// next pass: its attempt 1 is recorded REOPENED_LATE (nothing charged; dunning starts as after any first attempt).
import type { Em } from '@ledgerline/platform';
import { sql } from './sql';

/** collections.ts's due-date attempt. */
const DUE = 1;

/** The account has autopay (a token registered here, or subscribers said it is on). */
async function hasAutopay(em: Em, billingAccountId: string): Promise<boolean> {
  const a = await sql(em)('billing_account').where({ id: billingAccountId }).first('autopay', 'autopay_token');
  return !!a && (a.autopay_token != null || Boolean(a.autopay));
}

/**
 * A refund just made the invoice owe again (in its transaction, the invoice locked): on or after its due
 * date, with no due-date attempt, it gets its attempt 1 as REOPENED_LATE so autopay never charges it
 * (already there: nothing written). Only for autopay accounts.
 */
export async function noAutopayOfReopenedAfterDueDate(em: Em, invoice: { id: string; billing_account_id: string; due_date: Date | string | null }, now: Date): Promise<void> {
  if (!invoice.due_date || new Date(invoice.due_date).getTime() > now.getTime()) return;
  if (!(await hasAutopay(em, invoice.billing_account_id))) return;
  await sql(em)('autopay_attempt')
    .insert({ invoice_id: invoice.id, attempt: DUE, billing_account_id: invoice.billing_account_id, state: 'REOPENED_LATE', attempted_at: now })
    .onConflict(['invoice_id', 'attempt'])
    .ignore();
}

/**
 * What autopay does with what a reopened invoice owes again, for the refund's customer message:
 * 'DUE_DATE' — its due-date charge has not been made, so the card on file is charged then; 'NONE' — the
 * account has autopay but the due-date attempt was made (or the invoice was reopened after its due date):
 * not charged automatically, dunned; null — the account has no autopay.
 */
export async function autopayOfReopened(em: Em, invoice: { id: string; billing_account_id: string }): Promise<'DUE_DATE' | 'NONE' | null> {
  if (!(await hasAutopay(em, invoice.billing_account_id))) return null;
  const made = await sql(em)('autopay_attempt').where({ invoice_id: invoice.id, attempt: DUE }).first('state');
  return made ? 'NONE' : 'DUE_DATE';
}
