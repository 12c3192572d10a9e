import DecimalJs from 'decimal.js';

/**
 * The one Decimal constructor of the rating library. 40 significant digits keep sub-cent
 * prices of large quantities exact; rounding is always explicit (see pricing.ts), never implied
 * by a precision limit. toString() never writes exponent form (decimal.js's default does below 1e-7
 * and from 1e21: "1e-7"), so every text this library prints (a result's pricePerUnit, increments,
 * simulated ratios) is a plain decimal string, the only form isDecimalString, usage and wallets take.
 */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_UP, toExpNeg: -9e15, toExpPos: 9e15 });
export type Decimal = InstanceType<typeof Decimal>;

/** A plain decimal string: optional minus, digits, optional fraction. No exponent, no spaces. */
const DECIMAL_STRING = /^-?(0|[1-9]\d*)(\.\d+)?$/;

export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL_STRING.test(value);
}

/**
 * Parses a decimal string, or a non-money quantity written as a JSON integer (increments,
 * line counts). Money never reaches this as a number: the schema rejects it first.
 */
export function toDecimal(value: string | number | Decimal): Decimal {
  if (value instanceof Decimal) return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`expected an integer or a decimal string, got ${value}`);
    return new Decimal(value);
  }
  if (!isDecimalString(value)) throw new TypeError(`expected a decimal string, got ${JSON.stringify(value)}`);
  return new Decimal(value);
}

export const ZERO = new Decimal(0);

export type RoundingMode = 'HALF_UP' | 'HALF_EVEN' | 'UP' | 'DOWN';

export const ROUNDING_MODES: Record<RoundingMode, DecimalJs.Rounding> = {
  HALF_UP: DecimalJs.ROUND_HALF_UP,
  HALF_EVEN: DecimalJs.ROUND_HALF_EVEN,
  UP: DecimalJs.ROUND_UP,
  DOWN: DecimalJs.ROUND_DOWN,
};

/** Fixed-scale string, e.g. scale 6 → "0.120000"; the representation every price carries. */
export function roundTo(value: Decimal, scale: number, mode: RoundingMode): string {
  return value.toDecimalPlaces(scale, ROUNDING_MODES[mode]).toFixed(scale);
}
