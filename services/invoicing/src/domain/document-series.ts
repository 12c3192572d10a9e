/**
 * Document numbers print as `<series>-<number>`. Invoices take their account's series (default
 * INV); credit notes and receipts have their own prefixes (`issueCreditNote` / `issuePaymentReceipt`
 * in application/payments.ts, each with its counter in `invoice_series` by document type). An
 * invoice series named like one of those prefixes would print invoice numbers that read as credit
 * notes or receipts, so it is reserved.
 */
export const CREDIT_NOTE_PREFIX = 'CN';
export const RECEIPT_PREFIX = 'RCT';
export const RESERVED_INVOICE_SERIES: readonly string[] = [CREDIT_NOTE_PREFIX, RECEIPT_PREFIX];

/** Whether `series` names another document type's prefix (case and surrounding spaces ignored). */
export function isReservedInvoiceSeries(series: string): boolean {
  return RESERVED_INVOICE_SERIES.includes(series.trim().toUpperCase());
}

/** Why an invoice series may not be used, for a person to act on; undefined when it may. */
export function reservedInvoiceSeriesProblem(series: string): string | undefined {
  if (!isReservedInvoiceSeries(series)) return undefined;
  return `Invoice series "${series}" is reserved: ${RESERVED_INVOICE_SERIES.join(' and ')} number credit notes and receipts, so invoices in it would read as those; choose another series (default INV)`;
}

/** billing_account.series, invoice.series and invoice_series.series hold 16 characters (varchar(16): characters, not UTF-16 units). */
export const INVOICE_SERIES_MAX_LENGTH = 16;

export type InvoiceSeriesProblem = { code: 'INVOICE_SERIES_RESERVED' | 'INVOICE_SERIES_INVALID'; message: string };

/**
 * Why an account's invoice series cannot be used, with its code, for registerBillingAccount (BAD_USER_INPUT
 * on input.series) and for subscribers' account event (left out as invalid); undefined when it can.
 * Longer than the column or holding a NUL: INVOICE_SERIES_INVALID (before, a database error); another
 * document type's prefix: INVOICE_SERIES_RESERVED.
 */
export function invoiceSeriesProblem(series: string): InvoiceSeriesProblem | undefined {
  if ([...series].length > INVOICE_SERIES_MAX_LENGTH || series.includes('\u0000')) {
    return { code: 'INVOICE_SERIES_INVALID', message: `An invoice series is at most ${INVOICE_SERIES_MAX_LENGTH} characters, without NUL (this one has ${[...series].length}); choose a shorter one (default INV)` };
  }
  const reserved = reservedInvoiceSeriesProblem(series);
  return reserved ? { code: 'INVOICE_SERIES_RESERVED', message: reserved } : undefined;
}
