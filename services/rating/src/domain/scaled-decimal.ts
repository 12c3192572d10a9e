/**
 * Exact fixed-point arithmetic on scaled BigInts for the per-event hot path (increments and
 * flat unit prices). decimal.js division at 40 digits cost several microseconds per event;
 * these operations are exact too and an order of magnitude cheaper. Non-negative values only.
 */
import type { RoundingMode } from './decimal';

export interface Scaled {
  /** value × 10^scale */
  units: bigint;
  scale: number;
}

const POWERS: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

/** 10^exponent; beyond the table computed (exact, just slower). A negative or fractional exponent is a bug of the caller. */
function pow10(exponent: number): bigint {
  const cached = POWERS[exponent];
  if (cached !== undefined) return cached;
  if (!Number.isSafeInteger(exponent) || exponent < 0) throw new RangeError(`scaled-decimal: 10^${exponent} is not a whole power of ten`);
  return 10n ** BigInt(exponent);
}

/** `text` is a non-negative decimal string (checked before: assertValidEvent, the plan validator). */
export function parseScaled(text: string): Scaled {
  const dot = text.indexOf('.');
  if (dot === -1) return { units: BigInt(text), scale: 0 };
  return { units: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 };
}

export function rescale(value: Scaled, scale: number): bigint {
  return value.units * pow10(scale - value.scale);
}

export function formatScaled(units: bigint, scale: number): string {
  if (scale === 0) return units.toString();
  const digits = units.toString().padStart(scale + 1, '0');
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Minimal text of a scaled value ("1.50" → "1.5", "60.0" → "60"), as Decimal#toString gives. */
export function formatMinimal(units: bigint, scale: number): string {
  let text = formatScaled(units, scale);
  if (scale > 0) text = text.replace(/\.?0+$/, '');
  return text;
}

/** Divides a non-negative scaled value down to `scale` digits with the given rounding. */
export function roundDown(units: bigint, fromScale: number, toScale: number, mode: RoundingMode): bigint {
  if (fromScale <= toScale) return units * pow10(toScale - fromScale);
  const divisor = pow10(fromScale - toScale);
  const quotient = units / divisor;
  const remainder = units % divisor;
  if (remainder === 0n || mode === 'DOWN') return quotient;
  if (mode === 'UP') return quotient + 1n;
  const twice = remainder * 2n;
  if (twice > divisor) return quotient + 1n;
  if (twice < divisor) return quotient;
  return mode === 'HALF_UP' || quotient % 2n === 1n ? quotient + 1n : quotient;
}
