// TMF678 CustomerBill lifecycle, payment allocation and credit-note checks. Pure.
import { DomainError, dec, minorUnits, roundDecimal, type Decimal, type RoundingMode } from '@ledgerline/contracts';

export type InvoiceState = 'NEW' | 'ON_HOLD' | 'VALIDATED' | 'SENT' | 'SETTLED' | 'PARTIALLY_PAID' | 'VOIDED';

const TRANSITIONS: Record<InvoiceState, InvoiceState[]> = {
  NEW: ['VALIDATED', 'ON_HOLD', 'VOIDED'],
  VALIDATED: ['SENT', 'ON_HOLD', 'VOIDED', 'SETTLED', 'PARTIALLY_PAID'],
  SENT: ['SETTLED', 'PARTIALLY_PAID', 'ON_HOLD'],
  PARTIALLY_PAID: ['SETTLED', 'ON_HOLD', 'SENT'],
  SETTLED: ['PARTIALLY_PAID', 'SENT'],
  ON_HOLD: ['NEW', 'VALIDATED', 'SENT', 'PARTIALLY_PAID', 'SETTLED', 'VOIDED'],
  VOIDED: [],
};

export function assertTransition(from: InvoiceState, to: InvoiceState): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new DomainError('INVOICE_ILLEGAL_TRANSITION', `An invoice in state ${from} cannot become ${to}`, { field: 'id', from, to });
  }
}

/** Amount still owed: gross − paid − credited (never below zero). */
export function outstanding(inv: { total: string; amountPaid: string; amountCredited: string }): Decimal {
  const d = dec(inv.total).minus(inv.amountPaid).minus(inv.amountCredited);
  return d.isNegative() ? dec('0') : d;
}

/** The state an issued invoice has given what was paid and credited. */
export function settlementState(inv: { total: string; amountPaid: string; amountCredited: string }): 'SENT' | 'PARTIALLY_PAID' | 'SETTLED' {
  if (outstanding(inv).isZero()) return 'SETTLED';
  return dec(inv.amountPaid).plus(inv.amountCredited).gt(0) ? 'PARTIALLY_PAID' : 'SENT';
}

export interface PaymentCheckInput {
  invoice: { state: InvoiceState; currency: string; total: string; amountPaid: string; amountCredited: string };
  amount: string;
  currency: string;
  allowOverpayment: boolean;
}

/** Splits a payment into what settles the invoice and what is kept as account credit. */
export function allocatePayment(p: PaymentCheckInput): { applied: string; toCredit: string } {
  const scale = minorUnits(p.invoice.currency);
  if (p.currency !== p.invoice.currency) {
    throw new DomainError('PAYMENT_CURRENCY_MISMATCH', `The invoice is in ${p.invoice.currency}; a payment in ${p.currency} cannot settle it`, { field: 'input.amount.currency' });
  }
  const amount = dec(p.amount);
  if (amount.lte(0)) throw new DomainError('PAYMENT_AMOUNT_NOT_POSITIVE', 'A payment must be greater than zero', { field: 'input.amount.amount' });
  if (amount.decimalPlaces() > scale) throw new DomainError('PAYMENT_AMOUNT_PRECISION', `${p.currency} has ${scale} decimal places`, { field: 'input.amount.amount' });
  if (p.invoice.state === 'VOIDED') throw new DomainError('INVOICE_VOIDED', 'The invoice was voided; it cannot be paid', { field: 'input.invoiceId' });
  if (p.invoice.state === 'NEW') throw new DomainError('INVOICE_NOT_ISSUED', 'The invoice is a draft; issue it before paying it', { field: 'input.invoiceId' });
  const remaining = outstanding(p.invoice);
  if (amount.gt(remaining) && !p.allowOverpayment) {
    throw new DomainError('PAYMENT_EXCEEDS_REMAINING', `The payment ${amount.toFixed(scale)} is above the ${remaining.toFixed(scale)} still owed; set allowOverpayment to keep the rest as credit`, {
      field: 'input.amount.amount',
      remaining: remaining.toFixed(scale),
    });
  }
  const applied = amount.gt(remaining) ? remaining : amount;
  return { applied: applied.toFixed(scale), toCredit: amount.minus(applied).toFixed(scale) };
}

export interface CreditLineCheck {
  invoiceLineId: string;
  amount: string;
  line: { grossAmount: string; taxAmount: string; creditedAmount: string } | undefined;
}

/** Validates credit-note lines and splits each credited gross amount into net and tax. */
export function creditNoteLines(currency: string, items: CreditLineCheck[], mode: RoundingMode = 'HALF_EVEN'): { invoiceLineId: string; amount: string; taxAmount: string }[] {
  const scale = minorUnits(currency);
  if (items.length === 0) throw new DomainError('CREDIT_NOTE_EMPTY', 'A credit note needs at least one line', { field: 'input.lines' });
  const seen = new Set<string>();
  return items.map((item, i) => {
    const field = `input.lines[${i}]`;
    if (seen.has(item.invoiceLineId)) throw new DomainError('CREDIT_NOTE_LINE_DUPLICATE', 'Each invoice line may appear once', { field: `${field}.invoiceLineId` });
    seen.add(item.invoiceLineId);
    if (!item.line) throw new DomainError('INVOICE_LINE_NOT_FOUND', `Invoice line ${item.invoiceLineId} is not on this invoice`, { field: `${field}.invoiceLineId` });
    const amount = dec(item.amount);
    if (amount.lte(0)) throw new DomainError('CREDIT_NOTE_AMOUNT_NOT_POSITIVE', 'A credited amount must be greater than zero', { field: `${field}.amount` });
    if (amount.decimalPlaces() > scale) throw new DomainError('CREDIT_NOTE_AMOUNT_PRECISION', `${currency} has ${scale} decimal places`, { field: `${field}.amount` });
    const creditable = dec(item.line.grossAmount).minus(item.line.creditedAmount);
    if (amount.gt(creditable)) {
      throw new DomainError('CREDIT_NOTE_EXCEEDS_LINE', `Only ${creditable.toFixed(scale)} of this line can still be credited`, { field: `${field}.amount`, creditable: creditable.toFixed(scale) });
    }
    const gross = dec(item.line.grossAmount);
    const tax = gross.isZero() ? dec('0').toFixed(scale) : roundDecimal(amount.times(item.line.taxAmount).dividedBy(gross), scale, mode);
    return { invoiceLineId: item.invoiceLineId, amount: amount.toFixed(scale), taxAmount: tax };
  });
}
