// Money is a decimal string plus an ISO 4217 code; never a JS number (CONVENTIONS rule 1).
// These checks are pure and dependency-free so workflow code can use them too.

const DECIMAL = /^(0|[1-9]\d{0,17})(\.\d{1,10})?$/;
const CURRENCY = /^[A-Z]{3}$/;

/** A non-negative decimal string such as "12.3400" (no sign, exponent or spaces). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value);
}

/** True when the decimal string is greater than zero, decided on the digits alone. */
export function isPositiveDecimal(value: string): boolean {
  return isDecimalString(value) && /[1-9]/.test(value);
}

export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && CURRENCY.test(value);
}
