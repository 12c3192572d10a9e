import { Decimal } from '@ledgerline/contracts';

export const BUCKET_THRESHOLDS = [50, 80, 100] as const;

/** The used-percent thresholds a bucket crossed going from `before` to `after` remaining units. */
export function crossedBucketThresholds(initial: Decimal, before: Decimal, after: Decimal, alreadyNotified: number): number[] {
  if (initial.lessThanOrEqualTo(0) || alreadyNotified >= BUCKET_THRESHOLDS[BUCKET_THRESHOLDS.length - 1]) return [];
  // used % ≥ t  ⇔  (initial − remaining) × 100 ≥ t × initial: exact, and no division per charge.
  const usedBefore = initial.minus(before).times(100);
  const usedAfter = initial.minus(after).times(100);
  return BUCKET_THRESHOLDS.filter((t) => {
    if (t <= alreadyNotified) return false;
    const bar = initial.times(t);
    return usedAfter.greaterThanOrEqualTo(bar) && usedBefore.lessThan(bar);
  });
}

/** True when a balance went from at/above `threshold` to below it. */
export function fellBelow(before: Decimal, after: Decimal, threshold: Decimal | null): boolean {
  return threshold !== null && before.greaterThanOrEqualTo(threshold) && after.lessThan(threshold);
}

/** True when a prepaid balance reached zero (or less) from above. */
export function depleted(before: Decimal, after: Decimal): boolean {
  return before.greaterThan(0) && after.lessThanOrEqualTo(0);
}

/** Buckets with units left that expire within `warnBefore` ms get one warning. */
export function expiresSoon(validTo: Date, now: Date, warnBeforeMs: number): boolean {
  return validTo.getTime() > now.getTime() && validTo.getTime() - now.getTime() <= warnBeforeMs;
}
