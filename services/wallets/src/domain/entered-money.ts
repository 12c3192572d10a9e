import { Decimal, badInput, minorUnits } from '@ledgerline/contracts';

/**
 * Whole digits an amount may have: below 10^12 (a trillion in any currency). The ledger keeps an
 * amount in NUMERIC(20,6) (14 whole digits) and a larger one failed in PostgreSQL (numeric field
 * overflow, an INTERNAL_SERVER_ERROR); the margin leaves room for what is computed from entered
 * amounts and stored in the same columns (a top-up up to a target from an overdraft, a day's
 * top-ups).
 */
export const MAX_WHOLE_DIGITS = 12;
const TOO_LARGE = new Decimal(10).pow(MAX_WHOLE_DIGITS);

/** Refuses an amount the ledger cannot hold (AMOUNT_TOO_LARGE, naming the field). */
export function requireLedgerSize(value: Decimal, field: string): void {
  if (value.abs().lessThan(TOO_LARGE)) return;
  throw badInput(field, `An amount must be below ${TOO_LARGE.toFixed()} (got ${value.toFixed()})`, 'AMOUNT_TOO_LARGE');
}

/** The largest amount the ledger takes with 6 decimal places (999999999999.999999). */
export const LARGEST_AMOUNT = TOO_LARGE.minus('0.000001');

/**
 * Money a person enters (a top-up, a recharge, an adjustment, a voucher, a budget, a limit or a
 * threshold) is money that can be paid and shown: at most the currency's minor unit (ISO 4217
 * exponent: 2 for EUR, 0 for JPY, 3 for KWD). A card cannot be charged 10.123 USD. Rated prices
 * and the charges made from them keep 6 places (sub-cent rating): they are not entered, and are
 * not checked here. `currency` must be a supported one (checked before, see isCurrencyCode).
 * It must also fit the ledger (requireLedgerSize): every caller checks both at once.
 */
export function requireMinorUnits(value: Decimal, currency: string, field: string): void {
  requireLedgerSize(value, field);
  const digits = minorUnits(currency);
  if (value.decimalPlaces() <= digits) return;
  const allowed = digits === 0 ? 'no decimal places' : `at most ${digits} decimal place${digits === 1 ? '' : 's'}`;
  throw badInput(field, `${currency} amounts have ${allowed} (got ${value.toFixed()})`, 'AMOUNT_PRECISION');
}

/** `value` rounded up to the currency's minor unit: what a payment for at least `value` can be. */
export function upToMinorUnit(value: Decimal, currency: string): Decimal {
  return value.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_UP);
}

/** `value` rounded down to the currency's minor unit: the most a payment (a payout, a debit) of at most `value` can be. */
export function downToMinorUnit(value: Decimal, currency: string): Decimal {
  return value.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_DOWN);
}

/**
 * A stored figure (a balance, what is owed, a limit) as a refusal names it: exactly, with at least
 * the currency's minor unit ("9.977" EUR left by rated charges, "100.00" EUR, "12.345" BHD, "1000"
 * JPY). Printed with two decimals, rounded, a balance of 9.977 EUR read 9.98, an amount then refused.
 */
export function heldAmount(value: Decimal, currency: string): string {
  return value.toFixed(Math.max(minorUnits(currency), value.decimalPlaces()));
}

/** The most that may be paid or debited out of `room`, in the currency's minor unit (rounded down, not below 0), as text. */
export function payableAmount(room: Decimal, currency: string): string {
  return downToMinorUnit(Decimal.max(room, 0), currency).toFixed(minorUnits(currency));
}

/**
 * What a balance holds below the currency's minor unit when that is all it holds (0.007 EUR,
 * -0.004 EUR, 0.0006 BHD, 0.5 JPY): money no payment can move, since payments are whole minor
 * units. Null for zero and for a balance of a minor unit or more either way (9.977 EUR can still be
 * paid out, 9.97 of it). A settled wallet's such residue is written off (write-off-rounding.ts).
 */
export function subMinorResidue(balance: Decimal, currency: string): Decimal | null {
  if (balance.isZero()) return null;
  return balance.abs().lessThan(new Decimal(10).pow(-minorUnits(currency))) ? balance : null;
}
