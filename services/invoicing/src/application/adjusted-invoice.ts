// Which invoice a late charge adjusts, in one place: bill-accounts groups and prints the late-usage
// ADJUSTMENT lines by it, and a dispute finds the line that billed a charge by it (lineThatBilled).
//
// A charge billed on the invoice of a period starting at `periodStart` adjusts
// - the invoice its hint names (`adjusts_invoice_id`, from usage through wallets' ChargeResult) while
//   that invoice stands. Usage names only invoices it learnt of from customerBillCreated, i.e. issued
//   ones, and an issued invoice is never voided (only drafts are: invoice-lifecycle.ts). A hint naming
//   a voided invoice is read as no hint, so the line names the invoice that stands for the period now;
// - otherwise, when it occurred before `periodStart`, the live period invoice of the account covering
//   its time, if any (none: the period's invoice was voided with no replacement, and the charge is
//   ordinary usage of the invoice that bills it);
// - otherwise nothing: it is usage of the invoice's own period.
//
// An adjustment names an invoice the customer has: a late charge whose period's live invoice is still
// a draft (no number) is not billed on a later invoice (see LATE_FOR_A_DRAFT) but waits for that draft.
// Regenerated, the replacement bills it as usage of its own period; issued as it is, the next invoice
// bills it as an adjustment naming its number; voided with no replacement, the next invoice bills it
// as ordinary usage. Before, the next invoice named the draft by its id, and a void left that line
// naming an invoice that no longer stands.

/** SQL: the id of the invoice charge `c` adjusts on an invoice whose period starts at `periodStart` (a column or `?`); null for none. */
export const adjustedInvoiceOf = (periodStart: string): string => `case
    when c.adjusts_invoice_id is not null
         and not exists (select 1 from invoice v where v.id = c.adjusts_invoice_id and v.voided_at is not null)
      then c.adjusts_invoice_id
    when c.occurred_at < ${periodStart} then
      (select i.id from invoice i where i.billing_account_id = c.billing_account_id and i.kind = 'PERIOD' and i.voided_at is null
          and i.period_start <= c.occurred_at and i.period_end > c.occurred_at limit 1)
  end`;

/** SQL over a row `x` with `adj_invoice_id`: true when the invoice it would adjust is a draft (not issued, no number), so it waits. */
export const LATE_FOR_A_DRAFT = `exists (select 1 from invoice d where d.id = x.adj_invoice_id and d.voided_at is null and d.number is null)`;
