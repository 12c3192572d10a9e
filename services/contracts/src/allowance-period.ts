import { Decimal, minorUnits } from './money';

/**
 * Allowance periods: the stretch of time a plan's allowances (and its recurring fee) cover. They
 * run from each subscription's start, not by calendar month, and two services must agree on them:
 * wallets grants and renews the buckets for a period, usage counts live use against the same
 * period. Both compute it here.
 */

/** How often a plan's recurring fee (and with it, its allowances) comes round. */
export type FeePeriod = 'MONTH' | 'DAYS30' | 'WEEK';

const DAY = 86_400_000;
const FIXED: Record<Exclude<FeePeriod, 'MONTH'>, number> = { WEEK: 7 * DAY, DAYS30: 30 * DAY };

/**
 * The end of the allowance period that starts at `start`: 30 or 7 days later, or the same time on
 * the next month's day of `anchor` (the subscription's start; the month's last day when it is
 * shorter, without drifting: 31 Jan → 28 Feb → 31 Mar), in UTC. Invoicing's bill cycle is separate.
 */
export function periodEndOf(start: Date, period: FeePeriod = 'DAYS30', anchor: Date = start): Date {
  if (period !== 'MONTH') return new Date(start.getTime() + FIXED[period]);
  return monthBoundary(anchor, start.getUTCFullYear() * 12 + start.getUTCMonth() + 1 - (anchor.getUTCFullYear() * 12 + anchor.getUTCMonth()), start);
}

/** The k-th month boundary after `anchor`: its day of the month (clamped), the time of `timeOf`. */
function monthBoundary(anchor: Date, k: number, timeOf: Date = anchor): Date {
  const y = anchor.getUTCFullYear();
  const m = anchor.getUTCMonth() + k;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(anchor.getUTCDate(), lastDay), timeOf.getUTCHours(), timeOf.getUTCMinutes(), timeOf.getUTCSeconds(), timeOf.getUTCMilliseconds()));
}

export interface AllowancePeriod {
  /** The day the period starts, `YYYY-MM-DD` (UTC): names it (a line's periods start on different days). */
  period: string;
  start: Date;
  end: Date;
}

/**
 * The allowance period of a subscription that started at `anchor` which contains `at` (the first
 * one when `at` is before the start): the same periods wallets' renewals walk one by one with
 * `periodEndOf`, found without walking.
 */
export function allowancePeriodAt(anchor: Date, feePeriod: FeePeriod = 'DAYS30', at: Date): AllowancePeriod {
  let start: Date;
  let end: Date;
  if (feePeriod !== 'MONTH') {
    const length = FIXED[feePeriod];
    const k = Math.max(0, Math.floor((at.getTime() - anchor.getTime()) / length));
    start = new Date(anchor.getTime() + k * length);
    end = new Date(start.getTime() + length);
  } else {
    let k = Math.max(0, at.getUTCFullYear() * 12 + at.getUTCMonth() - (anchor.getUTCFullYear() * 12 + anchor.getUTCMonth()));
    if (k > 0 && monthBoundary(anchor, k) > at) k -= 1;
    start = monthBoundary(anchor, k);
    end = monthBoundary(anchor, k + 1);
  }
  return { period: start.toISOString().slice(0, 10), start, end };
}

/**
 * What a prepaid period's fee gives back when the period is cut short at `endsAt` (a fee that
 * prorates daily): the whole days not used (the day of the end counts as used) over the period's
 * days, to the currency's minor unit, half-even. Wallets refunds it; subscribers' preview shows it.
 */
export function unusedDaysRefund(fee: Decimal, period: { start: Date; end: Date }, endsAt: Date, currency: string): { unusedDays: number; periodDays: number; amount: Decimal } {
  const periodDays = Math.round((period.end.getTime() - period.start.getTime()) / DAY);
  const unusedDays = endsAt >= period.end ? 0 : Math.min(periodDays, Math.floor((period.end.getTime() - Math.max(endsAt.getTime(), period.start.getTime())) / DAY));
  if (periodDays <= 0 || unusedDays <= 0) return { unusedDays: 0, periodDays, amount: new Decimal(0) };
  return { unusedDays, periodDays, amount: fee.times(unusedDays).dividedBy(periodDays).toDecimalPlaces(minorUnits(currency), Decimal.ROUND_HALF_EVEN) };
}
