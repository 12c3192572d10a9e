// TMF678 CustomerBill lifecycle, payment allocation and credit-note checks. Pure.
import { DomainError, Decimal, dec, minorUnits, roundDecimal, type RoundingMode } from '@ledgerline/contracts';
import { lineCreditable } from './charge-refundable';

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

/**
 * A draft has no number and asks nobody for money yet: NEW, VALIDATED, or either of them put on hold
 * by a dispute (a bill on hold is still the bill it was). It is regenerated or voided, never paid
 * or credited.
 */
export function isDraft(inv: { state: InvoiceState; heldFrom?: string | null }): boolean {
  const state = inv.state === 'ON_HOLD' ? inv.heldFrom : inv.state;
  return state === 'NEW' || state === 'VALIDATED';
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
  /** `heldFrom`: the state an ON_HOLD invoice was in when the dispute put it on hold. */
  invoice: { state: InvoiceState; heldFrom?: string | null; currency: string; total: string; amountPaid: string; amountCredited: string };
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
  if (isDraft(p.invoice)) throw new DomainError('INVOICE_NOT_ISSUED', 'The invoice is a draft; issue it before paying it', { field: 'input.invoiceId' });
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
  /**
   * The invoice line as billed, `creditedAmount` (gross) and `taxCredited` (tax) being what earlier
   * credit notes already gave back of it.
   */
  line: { grossAmount: string; taxAmount: string; creditedAmount: string; taxCredited: string; givenBackApart?: string } | undefined;
}

/** What an invoice billed and what its earlier credit notes (all kinds) gave back of it. */
export interface InvoiceCreditState {
  total: string;
  netTotal: string;
  taxTotal: string;
  /** Sum of the earlier notes' totals (gross) and of their tax totals. */
  creditedTotal: string;
  taxCreditedTotal: string;
}

/**
 * Validates credit-note lines and splits each credited gross amount into net and tax.
 *
 * The tax of a note's line is computed on the line's cumulative credit: the line's tax share of
 * everything credited on it so far (earlier notes plus this one), rounded once, less the tax earlier
 * notes already gave back. So however a line is split over notes, their tax and net together never
 * exceed what the line billed, and the note that credits the rest of the line gives back exactly the
 * rest of its tax and net (rounding each piece on its own returned more tax than billed: 0.04 +
 * 0.04 + 35.61 of a 35.69 line taxed 5.70 gave back 5.71). The result is also kept within what is
 * left of the line's tax and net, so notes written before this rule cannot push it further over.
 *
 * With `invoice`, the same holds for the invoice as a whole (its discount lines lower what the
 * invoice billed below what its charge lines did): the note's tax is kept within what is left of
 * the invoice's tax and net, and the note that credits the rest of the invoice gives back exactly the
 * rest of its tax. The difference is moved between the note's lines, each within its own line's bounds.
 */
export function creditNoteLines(currency: string, items: CreditLineCheck[], mode: RoundingMode = 'HALF_EVEN', invoice?: InvoiceCreditState): { invoiceLineId: string; amount: string; taxAmount: string }[] {
  const scale = minorUnits(currency);
  if (items.length === 0) throw new DomainError('CREDIT_NOTE_EMPTY', 'A credit note needs at least one line', { field: 'input.lines' });
  const seen = new Set<string>();
  const split = items.map((item, i) => {
    const field = `input.lines[${i}]`;
    if (seen.has(item.invoiceLineId)) throw new DomainError('CREDIT_NOTE_LINE_DUPLICATE', 'Each invoice line may appear once', { field: `${field}.invoiceLineId` });
    seen.add(item.invoiceLineId);
    if (!item.line) throw new DomainError('INVOICE_LINE_NOT_FOUND', `Invoice line ${item.invoiceLineId} is not on this invoice`, { field: `${field}.invoiceLineId` });
    const amount = dec(item.amount);
    if (amount.lte(0)) throw new DomainError('CREDIT_NOTE_AMOUNT_NOT_POSITIVE', 'A credited amount must be greater than zero', { field: `${field}.amount` });
    if (amount.decimalPlaces() > scale) throw new DomainError('CREDIT_NOTE_AMOUNT_PRECISION', `${currency} has ${scale} decimal places`, { field: `${field}.amount` });
    // `givenBackApart`: refunds naming the line's charge (charge-refundable.ts) gave that back already.
    const creditable = lineCreditable(item.line.grossAmount, item.line.creditedAmount, item.line.givenBackApart ?? '0');
    if (amount.gt(creditable)) {
      const apart = dec(item.line.givenBackApart ?? '0');
      const why = apart.gt(0) ? ` (refunds of its charge gave back ${apart.toFixed(scale)} of it)` : '';
      throw new DomainError('CREDIT_NOTE_EXCEEDS_LINE', `Only ${creditable.toFixed(scale)} of this line can still be credited${why}`, { field: `${field}.amount`, creditable: creditable.toFixed(scale) });
    }
    return { invoiceLineId: item.invoiceLineId, amount, ...creditedTax(item.line, amount, scale, mode) };
  });
  if (invoice) fitToInvoice(split, invoice);
  return split.map((l) => ({ invoiceLineId: l.invoiceLineId, amount: l.amount.toFixed(scale), taxAmount: l.tax.toFixed(scale) }));
}

/**
 * The tax of `amount` credited on a line, cumulative over the line's notes (see creditNoteLines),
 * and the range it may be moved in: never more than is left of the line's tax, never more net than
 * is left of its net.
 */
function creditedTax(line: NonNullable<CreditLineCheck['line']>, amount: Decimal, scale: number, mode: RoundingMode): { tax: Decimal; lo: Decimal; hi: Decimal } {
  const zero = dec('0');
  const gross = dec(line.grossAmount);
  if (gross.isZero()) return { tax: zero, lo: zero, hi: zero };
  const lineTax = dec(line.taxAmount);
  const taxBefore = dec(line.taxCredited);
  const creditedAfter = dec(line.creditedAmount).plus(amount);
  // The rest of the line: exactly the rest of its tax. Otherwise the tax share of all credited so far.
  const raw = creditedAfter.gte(gross) ? lineTax.minus(taxBefore) : dec(roundDecimal(creditedAfter.times(lineTax).dividedBy(gross), scale, mode)).minus(taxBefore);
  const taxLeft = lineTax.minus(taxBefore);
  const netLeft = gross.minus(lineTax).minus(dec(line.creditedAmount).minus(taxBefore));
  const lo = Decimal.min(amount, Decimal.max(zero, amount.minus(netLeft)));
  // Notes from before this rule may have given back more than the line's tax: nothing more then.
  const hi = Decimal.max(lo, Decimal.min(amount, taxLeft));
  return { tax: Decimal.min(Decimal.max(raw, lo), hi), lo, hi };
}

/** Moves the note's tax between its lines (within their bounds) so the invoice's tax and net hold too. */
function fitToInvoice(split: { amount: Decimal; tax: Decimal; lo: Decimal; hi: Decimal }[], inv: InvoiceCreditState): void {
  const noteTotal = split.reduce((a, l) => a.plus(l.amount), dec('0'));
  const noteTax = split.reduce((a, l) => a.plus(l.tax), dec('0'));
  const taxLeft = dec(inv.taxTotal).minus(inv.taxCreditedTotal);
  const netLeft = dec(inv.netTotal).minus(dec(inv.creditedTotal).minus(inv.taxCreditedTotal));
  const target = dec(inv.creditedTotal).plus(noteTotal).gte(inv.total) ? taxLeft : Decimal.min(Decimal.max(noteTax, noteTotal.minus(netLeft)), taxLeft);
  let delta = target.minus(noteTax);
  for (const l of split) {
    if (delta.isZero()) break;
    const moved = delta.isPositive() ? Decimal.min(delta, l.hi.minus(l.tax)) : Decimal.max(delta, l.lo.minus(l.tax));
    l.tax = l.tax.plus(moved);
    delta = delta.minus(moved);
  }
}

/**
 * What all of an invoice's credit notes credit (CREDIT, REFUND and OFFSET alike) never exceeds what
 * the invoice billed: a line may be credited up to its own gross, but a discount line already took
 * part of it off. `alreadyCredited` is what earlier credit notes credited; returns the note's total.
 */
export function assertCreditNoteWithinInvoice(currency: string, invoiceTotal: string, alreadyCredited: string, lines: { amount: string }[]): string {
  const scale = minorUnits(currency);
  const total = lines.reduce((a, l) => a.plus(l.amount), dec('0'));
  const left = dec(invoiceTotal).minus(alreadyCredited);
  const creditable = left.isNegative() ? dec('0') : left;
  if (total.gt(creditable)) {
    throw new DomainError(
      'CREDIT_NOTE_EXCEEDS_INVOICE',
      `The invoice billed ${dec(invoiceTotal).toFixed(scale)} and ${dec(alreadyCredited).toFixed(scale)} of it is already credited; this note credits ${total.toFixed(scale)}, only ${creditable.toFixed(scale)} can still be credited`,
      { field: 'input.lines', creditable: creditable.toFixed(scale) },
    );
  }
  return total.toFixed(scale);
}

export interface RefundSplitInput {
  currency: string;
  amount: string;
  /** What the payment kept as account credit and no refund has given back yet. */
  keptCredit: string;
  /** The account's credit balance now (other invoices may have used the kept credit since). */
  creditBalance: string;
  /** What the payment paid on its invoice and nothing (refund, REFUND credit note) has given back yet. */
  paidOnInvoice: string;
  /** The invoice's amount paid now (a CREDIT credit note may have moved paid money to account credit). */
  invoicePaid: string;
}

/**
 * Where a refund of a payment comes from: the credit it kept first, then what it paid on its invoice
 * (which reopens it) — each only as far as that money is still there, so nothing is given back twice
 * and neither the account's credit nor the invoice's amount paid goes below zero.
 */
export function splitRefund(p: RefundSplitInput): { fromCredit: string; fromInvoice: string } {
  const scale = minorUnits(p.currency);
  const zero = dec('0');
  const min = (a: Decimal, b: Decimal) => (a.lt(b) ? a : b);
  const kept = dec(p.keptCredit);
  const creditAvailable = min(kept, dec(p.creditBalance)).toDecimalPlaces(scale, 1);
  const credit = creditAvailable.gt(zero) ? creditAvailable : zero;
  const paid = dec(p.paidOnInvoice);
  const onInvoiceRaw = min(paid, dec(p.invoicePaid));
  const onInvoice = onInvoiceRaw.gt(zero) ? onInvoiceRaw : zero;
  const amount = dec(p.amount);
  const fromCredit = min(amount, credit);
  const fromInvoice = amount.minus(fromCredit);
  if (fromInvoice.gt(onInvoice)) {
    const why = [
      kept.gt(credit) ? `${kept.minus(credit).toFixed(scale)} it left as account credit has since paid other invoices` : null,
      paid.gt(onInvoice) ? `${paid.minus(onInvoice).toFixed(scale)} it paid on its invoice was since taken off the invoice by a credit note` : null,
    ].filter(Boolean);
    const refundable = credit.plus(onInvoice).toFixed(scale);
    throw new DomainError('REFUND_EXCEEDS_AVAILABLE', `Only ${refundable} of this payment can be refunded now${why.length ? `: ${why.join('; ')}` : ''}`, { field: 'input.amount.amount', refundable });
  }
  return { fromCredit: fromCredit.toFixed(scale), fromInvoice: fromInvoice.toFixed(scale) };
}
