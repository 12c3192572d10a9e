// One remaining amount per billed one-off charge and its invoice line. Money comes back for it through
// two kinds of door: credit notes on the line (staff's issueCreditNote, a waiver's note, an upheld
// dispute's note, a note covering a dispute) — all counted in the line's credited amount — and refunds
// naming the charge (addOneOffCharge refundsChargeId), billed as credits on a later or the same
// invoice. Each door used to weigh only its own kind, so the customer could have the charge back once
// per kind. Every door now asks these functions what is left.
//
// A refund is stated in the charge's own terms (its amount as recorded: net for a tax-exclusive rule);
// the line is tax included. A billed refund counts with its own line's gross; one not billed yet with
// its share of the charge's line (rounded half up), so a full refund is exactly the line.
import { Decimal, dec, minorUnits, roundDecimal } from '@ledgerline/contracts';

const zero = dec('0');
const atLeastZero = (d: Decimal): Decimal => (d.isNegative() ? zero : d);

/** A refund naming the charge (not cancelled): its amount as recorded (negative) and, once billed, its line's gross (negative). */
export interface RefundOfCharge {
  amount: string;
  billedGross: string | null;
}

/** The charge's line on an issued invoice, tax included: what it billed, what credit notes gave back of it, what open disputes of it hold. */
export interface ChargeLine {
  gross: string;
  credited: string;
  disputed: string;
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
  /** What a dispute may still be opened for on its line: creditable less its open disputes; null without a line. */
  undisputed: Decimal | null;
  /** What a new refund may still be, in the charge's terms: nothing given back or held by an open dispute. */
  refundable: Decimal;
}

/** A refund's part of the charge's line, tax included (a refund of the whole charge is the whole line). */
export function shareOfLine(lineGross: string, chargeAmount: string, refundAmount: Decimal, currency: string): Decimal {
  return dec(roundDecimal(dec(lineGross).times(refundAmount.abs()).dividedBy(chargeAmount), minorUnits(currency), 'HALF_UP'));
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
  const unit = dec('1').dividedBy(dec('10').pow(minorUnits(c.currency)));
  const refundedInTerms = c.refunds.reduce((a, r) => a.plus(dec(r.amount).abs()), zero);
  const leftInTerms = atLeastZero(dec(c.amount).minus(refundedInTerms));
  if (!c.line) return { refundedGross: null, creditable: null, undisputed: null, refundable: leftInTerms };
  const line = c.line;
  const refundedGross = c.refunds.reduce((a, r) => a.plus(r.billedGross != null ? dec(r.billedGross).abs() : shareOfLine(line.gross, c.amount, dec(r.amount), c.currency)), zero);
  const creditable = lineCreditable(line.gross, line.credited, refundedGross);
  const undisputed = atLeastZero(creditable.minus(line.disputed));
  const gross = dec(line.gross);
  if (!gross.gt(0)) return { refundedGross, creditable, undisputed, refundable: zero };
  const fits = (x: Decimal) => shareOfLine(line.gross, c.amount, x, c.currency).lte(undisputed);
  // The largest amount in minor units whose share of the line fits (its rounding may let one unit more in).
  let most = Decimal.min(dec(roundDecimal(undisputed.times(c.amount).dividedBy(gross), minorUnits(c.currency), 'DOWN')), leftInTerms);
  while (most.plus(unit).lte(leftInTerms) && fits(most.plus(unit))) most = most.plus(unit);
  return { refundedGross, creditable, undisputed, refundable: most };
}
