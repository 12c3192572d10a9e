import { Decimal } from '@ledgerline/contracts';

export { periodEndOf, type FeePeriod } from '@ledgerline/contracts';

/**
 * What of an allowance's unused units carries into the next period: `percent` of what is left,
 * capped at `maxQuantity`, in whole units of the bucket's precision (never rounded up).
 */
export function rolloverOf(remaining: Decimal, rollover: { percent?: string; maxQuantity?: string } | undefined): Decimal {
  if (!rollover || remaining.lessThanOrEqualTo(0)) return new Decimal(0);
  const percent = new Decimal(rollover.percent ?? '100');
  if (percent.lessThanOrEqualTo(0)) return new Decimal(0);
  let carried = remaining.times(percent).dividedBy(100).toDecimalPlaces(6, Decimal.ROUND_DOWN);
  if (rollover.maxQuantity !== undefined && carried.greaterThan(rollover.maxQuantity)) carried = new Decimal(rollover.maxQuantity);
  return carried;
}

/** Whether a prepaid balance (with its overdraft) covers a fee. */
export function covers(balance: Decimal, overdraftLimit: Decimal, fee: Decimal): boolean {
  return balance.minus(fee).greaterThanOrEqualTo(overdraftLimit.negated());
}
