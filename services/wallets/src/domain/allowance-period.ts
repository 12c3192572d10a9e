import { Decimal } from '@ledgerline/contracts';

/** How often a plan's recurring fee (and with it, its allowances) comes round. */
export type FeePeriod = 'MONTH' | 'DAYS30' | 'WEEK';

const DAY = 86_400_000;

/**
 * The end of the allowance period that starts at `start`: 30 or 7 days later, or the same time on
 * the next month's day of `anchor` (the subscription's start; the month's last day when it is
 * shorter, without drifting: 31 Jan → 28 Feb → 31 Mar), in UTC. Allowance periods run from the
 * subscription's start; invoicing's bill cycle is separate.
 */
export function periodEndOf(start: Date, period: FeePeriod = 'DAYS30', anchor: Date = start): Date {
  if (period === 'WEEK') return new Date(start.getTime() + 7 * DAY);
  if (period === 'DAYS30') return new Date(start.getTime() + 30 * DAY);
  const y = start.getUTCFullYear();
  const m = start.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(anchor.getUTCDate(), lastDay), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()));
}

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
