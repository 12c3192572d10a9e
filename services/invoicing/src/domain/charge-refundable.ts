// One remaining amount per billed one-off charge and its invoice line. Money comes back for it through
// two kinds of door: credit notes on the line (staff's issueCreditNote, a waiver's note, an upheld
// dispute's note, a note covering a dispute) — all counted in the line's credited amount — and refunds
// naming the charge (addOneOffCharge refundsChargeId), billed as credits on a later or the same
// invoice. Each door used to weigh only its own kind, so the customer could have the charge back once
// per kind. Every door now asks these functions what is left.
//
// A refund is stated in the charge's own terms (its amount as recorded: net for a tax-exclusive rule);
// the line is tax included. Everything is weighed in one unit, gross minor units as billed: a billed
// refund with its own line's gross, one not billed yet as the bill will show it (the charge line's tax
// rule, the account's rounding mode: compose.ts's taxLine), so a full refund is exactly the line.
// (Until 2026-11-29, session 30, one not billed yet counted with its share of the line rounded half up,
// and billed at its own tax it could show a cent more: a 10.01 activation, 11.91, refunded 2.50 + 2.50
// + 5.01 was billed back 2.98 + 2.98 + 5.96 = 11.92.)
//
// Open disputes hold their room from refunds: a dispute of the line on the line, and every open dispute
// of the invoice (of a line, a usage record or the whole invoice) on the invoice as a whole — a refund
// is at most what the invoice would still have if they were all upheld in full (`invoiceUndisputed`,
// which openDispute weighs a new dispute against too). Before, a dispute of the whole invoice held
// nothing: the refund went out and the dispute's ACCEPT then found its room gone.
import { Decimal, dec, minorUnits, roundDecimal, type RoundingMode } from '@ledgerline/contracts';
import { taxLine } from './compose';

const zero = dec('0');
const atLeastZero = (d: Decimal): Decimal => (d.isNegative() ? zero : d);

/** A refund naming the charge (not cancelled): its amount as recorded (negative) and, once billed, its line's gross (negative). */
export interface RefundOfCharge {
  amount: string;
  billedGross: string | null;
}

/** How a refund of the charge is billed: the tax rule its line was billed with and the rounding mode of the account's bills. */
export interface RefundTax {
  rate: string;
  inclusive: boolean;
  roundingMode: RoundingMode;
}

/**
 * The charge's line on an issued invoice, tax included: what it billed, what credit notes gave back of
 * it, what open disputes of it hold, and how its refunds are billed. `invoiceUndisputed`: what its
 * invoice as a whole has left if all its open disputes were upheld in full (`invoiceUndisputed()`);
 * absent, only the line is weighed (the line's own facts, as givenBackApart reads them).
 */
export interface ChargeLine {
  gross: string;
  credited: string;
  disputed: string;
  tax: RefundTax;
  invoiceUndisputed?: string | Decimal;
}

export interface ChargeGivenBack {
  currency: string;
  /** The charge as recorded (one_off_charge.amount, above zero). */
  amount: string;
  refunds: RefundOfCharge[];
  /** Null while the charge is on no issued invoice (not billed, or on a draft): nothing of it can be credited by a note yet. */
  line: ChargeLine | null;
}

export interface ChargeRefundable {
  /** What its refunds gave or will give back, tax included on its line; null without a line. */
  refundedGross: Decimal | null;
  /**
   * What a credit note may still credit on its line, tax included; null without a line. Open disputes
   * are not taken off: a note takes their room and covers them (credit-note-disputes.ts).
   */
  creditable: Decimal | null;
  /**
   * What a dispute may still be opened for on its line: creditable less its open disputes, and no more
   * than its invoice has left beyond all of its open disputes; null without a line.
   */
  undisputed: Decimal | null;
  /** What a new refund may still be, in the charge's terms: nothing given back or held by an open dispute. */
  refundable: Decimal;
}

/**
 * A refund's gross as its bill shows it (positive): `refundAmount` (in the charge's terms, either sign)
 * as a credit line taxed by the charge line's rule and the account's rounding mode (compose.ts). A
 * refund of the whole charge is the whole line.
 */
export function refundGrossAsBilled(refundAmount: Decimal | string, tax: RefundTax, currency: string): Decimal {
  return dec(taxLine(dec(refundAmount).abs().negated(), tax, minorUnits(currency), tax.roundingMode).gross).abs();
}

/**
 * What an invoice as a whole can still give back if all its open disputes (of a line, a usage record
 * or the whole invoice) were upheld in full: its total less its credit notes, less what was given back
 * of its lines apart from it (refunds of its charges billed elsewhere or not yet, usage corrections:
 * charge-given-back.ts's outsideOfInvoice), less its open disputes (never below zero). A new dispute
 * (openDispute) and a refund of one of its charges are at most this.
 */
export function invoiceUndisputed(total: string | Decimal, noted: string | Decimal, givenOutside: string | Decimal, disputed: string | Decimal): Decimal {
  return atLeastZero(dec(total).minus(noted).minus(givenOutside).minus(disputed));
}

/** What is left of a line once credit notes and what was given back apart from them are taken off, tax included (never below zero). */
export function lineCreditable(gross: string | Decimal, credited: string | Decimal, givenBackApart: string | Decimal = zero): Decimal {
  return atLeastZero(dec(gross).minus(credited).minus(givenBackApart));
}

/**
 * What is left of a charge for each door: a credit note on its line (`creditable`), a dispute of its
 * line (`undisputed`) and a new refund of it (`refundable`, in the charge's terms; before billing, the
 * charge less its refunds).
 */
export function chargeRefundable(c: ChargeGivenBack): ChargeRefundable {
  const scale = minorUnits(c.currency);
  const unit = dec('1').dividedBy(dec('10').pow(scale));
  const refundedInTerms = c.refunds.reduce((a, r) => a.plus(dec(r.amount).abs()), zero);
  const leftInTerms = atLeastZero(dec(c.amount).minus(refundedInTerms));
  if (!c.line) return { refundedGross: null, creditable: null, undisputed: null, refundable: leftInTerms };
  const line = c.line;
  const asBilled = (x: Decimal | string) => refundGrossAsBilled(x, line.tax, c.currency);
  const refundedGross = c.refunds.reduce((a, r) => a.plus(r.billedGross != null ? dec(r.billedGross).abs() : asBilled(r.amount)), zero);
  const creditable = lineCreditable(line.gross, line.credited, refundedGross);
  const lineUndisputed = atLeastZero(creditable.minus(line.disputed));
  const undisputed = line.invoiceUndisputed == null ? lineUndisputed : Decimal.min(lineUndisputed, atLeastZero(dec(line.invoiceUndisputed)));
  if (!dec(line.gross).gt(0)) return { refundedGross, creditable, undisputed, refundable: zero };
  // The largest amount in minor units (at most what is left of the charge) whose gross as billed fits:
  // a bisection over minor units (the gross as billed grows with the amount, whatever the rounding mode).
  let lo = 0n; // fits
  let hi = BigInt(roundDecimal(leftInTerms.dividedBy(unit), 0, 'DOWN')); // may not fit
  const inTerms = (n: bigint) => dec(n.toString()).times(unit);
  if (asBilled(inTerms(hi)).lte(undisputed)) lo = hi;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (asBilled(inTerms(mid)).lte(undisputed)) lo = mid;
    else hi = mid;
  }
  // A charge left with a fraction of a minor unit (sub-cent amounts) refunds it whole when all of it fits.
  const refundable = asBilled(leftInTerms).lte(undisputed) ? leftInTerms : inTerms(lo);
  return { refundedGross, creditable, undisputed, refundable };
}
