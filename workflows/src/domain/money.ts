// Money is a decimal string plus an ISO 4217 code; never a JS number (CONVENTIONS rule 1).
// These checks are pure and dependency-free so workflow code can use them too; the currency table is
// contracts' own (its currencies module alone: contracts' entry point brings node:crypto, which
// Temporal's workflow bundle refuses).
import { isCurrencyCode, minorUnitsOf } from '@ledgerline/contracts/currencies';

export { isCurrencyCode };

const DECIMAL = /^(0|[1-9]\d{0,17})(\.\d{1,10})?$/;

/** A non-negative decimal string such as "12.3400" (no sign, exponent or spaces). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value);
}

/** True when the decimal string is greater than zero, decided on the digits alone. */
export function isPositiveDecimal(value: string): boolean {
  return isDecimalString(value) && /[1-9]/.test(value);
}

/** Minor-unit digits of a currency the platform bills in (ISO 4217 exponent): 2 for EUR, 0 for JPY, 3 for KWD. */
export function minorUnits(currency: string): number {
  const digits = minorUnitsOf(currency);
  if (digits === undefined) throw new RangeError(`Unknown currency "${currency}"`);
  return digits;
}
