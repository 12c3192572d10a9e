import DecimalBase from 'decimal.js';
import { currencyMinorUnits, isCurrencyCode, minorUnitsOf } from './currencies';
import { DomainError } from './errors';

/**
 * Exact money: a decimal string plus an ISO 4217 currency. Arithmetic happens in decimal.js
 * with 40 significant digits so sub-cent rating prices never lose precision; rounding happens
 * once, explicitly, with a named mode.
 */
export const Decimal = DecimalBase.clone({ precision: 40, rounding: DecimalBase.ROUND_HALF_EVEN, toExpNeg: -30, toExpPos: 40 });
export type Decimal = DecimalBase;

export interface Money {
  readonly amount: string;
  readonly currency: string;
}

export type RoundingMode = 'HALF_EVEN' | 'HALF_UP' | 'HALF_DOWN' | 'UP' | 'DOWN' | 'CEILING' | 'FLOOR';

const ROUNDING: Record<RoundingMode, DecimalBase.Rounding> = {
  HALF_EVEN: DecimalBase.ROUND_HALF_EVEN,
  HALF_UP: DecimalBase.ROUND_HALF_UP,
  HALF_DOWN: DecimalBase.ROUND_HALF_DOWN,
  UP: DecimalBase.ROUND_UP,
  DOWN: DecimalBase.ROUND_DOWN,
  CEILING: DecimalBase.ROUND_CEIL,
  FLOOR: DecimalBase.ROUND_FLOOR,
};

const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL_PATTERN.test(value);
}

export { currencyMinorUnits, isCurrencyCode };

/** Minor-unit digits of a currency we bill in (ISO 4217 exponent): 2 for EUR, 0 for JPY, 3 for KWD. */
export function minorUnits(currency: string): number {
  const digits = minorUnitsOf(currency);
  if (digits === undefined) throw new DomainError('MONEY_UNKNOWN_CURRENCY', `Unknown currency "${currency}"`, { field: 'currency' });
  return digits;
}

export function dec(value: string | Decimal): Decimal {
  if (typeof value !== 'string') return value;
  if (!DECIMAL_PATTERN.test(value)) throw new DomainError('MONEY_INVALID_AMOUNT', `"${value}" is not a decimal number`, { field: 'amount' });
  return new Decimal(value);
}

/** Canonical text of a decimal: no exponent, no trailing zeros beyond what is given. */
export function decimalToString(value: Decimal): string {
  return value.toFixed();
}

export function money(amount: string | Decimal, currency: string): Money {
  if (!CURRENCY_PATTERN.test(currency)) throw new DomainError('MONEY_UNKNOWN_CURRENCY', `"${currency}" is not an ISO 4217 code`, { field: 'currency' });
  return { amount: decimalToString(dec(amount)), currency };
}

export function zero(currency: string): Money {
  return money('0', currency);
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new DomainError('MONEY_CURRENCY_MISMATCH', `Cannot combine ${a.currency} with ${b.currency}`, { field: 'currency' });
  }
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(dec(a.amount).plus(dec(b.amount)), a.currency);
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(dec(a.amount).minus(dec(b.amount)), a.currency);
}

export function multiply(a: Money, factor: string | Decimal): Money {
  return money(dec(a.amount).times(dec(factor)), a.currency);
}

export function negate(a: Money): Money {
  return money(dec(a.amount).negated(), a.currency);
}

export function sum(items: readonly Money[], currency: string): Money {
  return items.reduce((acc, m) => add(acc, m), zero(currency));
}

export function compare(a: Money, b: Money): -1 | 0 | 1 {
  sameCurrency(a, b);
  return dec(a.amount).comparedTo(dec(b.amount)) as -1 | 0 | 1;
}

export const isZero = (a: Money): boolean => dec(a.amount).isZero();
export const isNegative = (a: Money): boolean => dec(a.amount).isNegative() && !dec(a.amount).isZero();
export const isPositive = (a: Money): boolean => dec(a.amount).greaterThan(0);

/** Round to the currency's minor unit (or `scale` digits) with a named mode. */
export function round(a: Money, mode: RoundingMode = 'HALF_EVEN', scale?: number): Money {
  const digits = scale ?? minorUnits(a.currency);
  return { amount: dec(a.amount).toDecimalPlaces(digits, ROUNDING[mode]).toFixed(digits), currency: a.currency };
}

export function roundDecimal(value: string | Decimal, scale: number, mode: RoundingMode = 'HALF_EVEN'): string {
  return dec(value).toDecimalPlaces(scale, ROUNDING[mode]).toFixed(scale);
}

/**
 * Split `total` into parts proportional to `ratios` so that the parts add back to exactly the
 * total at the currency's minor unit. Remainders go one minor unit at a time to the parts with
 * the largest fractional loss (largest remainder method), ties to the earliest part.
 */
export function allocate(total: Money, ratios: readonly (string | Decimal)[], scale?: number): Money[] {
  if (ratios.length === 0) throw new DomainError('MONEY_ALLOCATION_EMPTY', 'Cannot allocate over no parts', { field: 'ratios' });
  const weights = ratios.map((r) => dec(r));
  if (weights.some((w) => w.isNegative())) throw new DomainError('MONEY_ALLOCATION_NEGATIVE', 'Allocation ratios must not be negative', { field: 'ratios' });
  const weightSum = weights.reduce((acc, w) => acc.plus(w), new Decimal(0));
  if (weightSum.isZero()) throw new DomainError('MONEY_ALLOCATION_EMPTY', 'Allocation ratios must not all be zero', { field: 'ratios' });
  const digits = scale ?? minorUnits(total.currency);
  const unit = new Decimal(1).dividedBy(new Decimal(10).pow(digits));
  const totalUnits = dec(total.amount).dividedBy(unit);
  if (!totalUnits.isInteger()) throw new DomainError('MONEY_ALLOCATION_UNROUNDED', `Round ${total.amount} to ${digits} digits before allocating`, { field: 'total' });
  const sign = totalUnits.isNegative() ? -1 : 1;
  const absUnits = totalUnits.abs();
  const exact = weights.map((w) => absUnits.times(w).dividedBy(weightSum));
  const floors = exact.map((e) => e.floor());
  let leftover = absUnits.minus(floors.reduce((acc, f) => acc.plus(f), new Decimal(0))).toNumber();
  const order = exact.map((e, i) => ({ i, frac: e.minus(floors[i]!) })).sort((a, b) => b.frac.comparedTo(a.frac) || a.i - b.i);
  for (const { i } of order) {
    if (leftover <= 0) break;
    floors[i] = floors[i]!.plus(1);
    leftover -= 1;
  }
  return floors.map((f) => ({ amount: f.times(unit).times(sign).toFixed(digits), currency: total.currency }));
}

/**
 * An amount as a person reads it (notification texts, messages): rounded once to the currency's
 * minor unit with a named mode (HALF_EVEN by default, as invoice documents round) and printed with
 * exactly that many decimals — "4.995 JOD", "480 JPY", "12.30 EUR". Exact: decimal.js on the
 * decimal string, never a JS number. Throws MONEY_UNKNOWN_CURRENCY for a currency we do not bill in
 * and MONEY_INVALID_AMOUNT for a string that is not a decimal.
 */
export function formatAmount(amount: string | Decimal, currency: string, mode: RoundingMode = 'HALF_EVEN'): string {
  const digits = minorUnits(currency);
  return `${dec(amount).toDecimalPlaces(digits, ROUNDING[mode]).toFixed(digits)} ${currency}`;
}

export function formatMoney(m: Money, mode: RoundingMode = 'HALF_EVEN'): string {
  return formatAmount(m.amount, m.currency, mode);
}
