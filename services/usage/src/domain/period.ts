import { allowancePeriodAt, badInput, type AllowancePeriod, type FeePeriod } from '@ledgerline/contracts';
import type { LineInfo, SubscriptionVersion } from './subscriber';

/** A calendar-month period `YYYY-MM` as a half-open UTC interval [start, end): what `rerate` takes (a billing month); `field` names it in the input error. */
export function monthPeriod(period: string | null | undefined, now: Date, field = 'period'): { period: string; start: Date; end: Date } {
  const text = period ?? now.toISOString().slice(0, 7);
  const match = /^(\d{4})-(\d{2})$/.exec(text);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) throw badInput(field, `"${text}" is not a period in the form YYYY-MM`, 'PERIOD_INVALID');
  const year = Number(match[1]);
  // Date.UTC reads years 0-99 as 1900-1999: "0099-05" would be May 1999.
  if (year < EARLIEST_YEAR) throw badInput(field, `"${text}" is before ${EARLIEST_YEAR}: no usage is that old`, 'PERIOD_INVALID');
  const month = Number(match[2]) - 1;
  return { period: text, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

/** When a subscription started: its first row in the line's history (later rows are changes to it). */
export function subscriptionStart(line: LineInfo, subscriptionId: string): Date {
  let start: Date | undefined;
  for (const v of line.versions) if (v.subscriptionId === subscriptionId && (!start || v.validFrom < start)) start = v.validFrom;
  return start ?? new Date(0);
}

/**
 * The period live usage counts `at` in: the allowance period of the line's subscription in force
 * then (from the subscription's start, the plan's fee period: the periods wallets grants buckets
 * for), or the calendar month when the line had no subscription (nothing is rated then). The
 * subscription's end ends its last period: a plan change is a new subscription from there, whose
 * periods (and buckets) start afresh.
 */
export function linePeriodAt(line: LineInfo, version: SubscriptionVersion | undefined, feePeriod: FeePeriod | undefined, at: Date): AllowancePeriod {
  if (!version) return calendarMonthAt(at);
  // A renewal wallets made late (the fee waited for a top-up) restarts the periods there, and the
  // period it cut short ends there.
  let anchor = subscriptionStart(line, version.subscriptionId);
  let next: Date | undefined;
  for (const r of line.restarts?.[version.subscriptionId] ?? []) {
    if (r <= anchor) continue;
    if (r <= at) anchor = r;
    else {
      next = r;
      break;
    }
  }
  if (version.endsAt && version.endsAt > at && (!next || version.endsAt < next)) next = version.endsAt;
  const p = allowancePeriodAt(anchor, feePeriod, at);
  if (!next || next >= p.end) return p;
  // Cut short on the day it began, it would share that day's name (its counters, the keys of its
  // notifications) with the period that starts at the cut (the restart's, or the next
  // subscription's after a plan change): it is named by its start instant instead, and the period
  // after it, which a query by the day finds (periodQueryInstant), keeps the day.
  const period = next.toISOString().slice(0, 10) === p.period ? p.start.toISOString() : p.period;
  return { period, start: p.start, end: next };
}

/** A subscription of the account on the plan version that shares a pool: when it started and ended. */
export interface PoolMember {
  startsAt: Date;
  endsAt: Date | null;
}

/**
 * The period of an account's shared pool at `at`, as wallets runs it: the first member's
 * subscription opens the pool, a line joining later draws on the pool in force, and at each
 * period's end the pool opens the next period on the same cadence while a member is in force then
 * (wallets' renewDueSharedPools), whether or not the line that opened it is still there. When no
 * member is left at a period's end the run stops; the next member to start begins a new one.
 */
export function poolPeriodAt(members: readonly PoolMember[], feePeriod: FeePeriod | undefined, at: Date): AllowancePeriod | undefined {
  const sorted = [...members].sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  const inForceAt = (t: Date) => sorted.some((m) => m.startsAt <= t && (!m.endsAt || m.endsAt > t));
  let i = 0;
  while (i < sorted.length && sorted[i]!.startsAt <= at) {
    const anchor = sorted[i]!.startsAt;
    let p = allowancePeriodAt(anchor, feePeriod, anchor);
    while (p.end <= at && inForceAt(p.end)) p = allowancePeriodAt(anchor, feePeriod, p.end);
    if (p.end > at) return p;
    // The run stopped at p.end: the members that started by then are behind it.
    while (i < sorted.length && sorted[i]!.startsAt <= p.end) i++;
  }
  return undefined;
}

export function calendarMonthAt(at: Date): AllowancePeriod {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  return { period: start.toISOString().slice(0, 10), start, end: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)) };
}

const DAY = 86_400_000;
/** No usage is older (validateUsage refuses records before it too); years below 100 are not read as 19xx. */
const EARLIEST_YEAR = 1970;

/**
 * The moment a live-usage query asks about (`Line.usage(period:)`): none → now; an instant → that
 * instant; a day `YYYY-MM-DD` (a period's name) → the last moment of that day, so the period that
 * starts that day is the one shown (a period is never shorter than a week, so one that was running
 * at the day's end and started before it covers the whole day).
 */
export function periodQueryInstant(period: string | null | undefined, now: Date): Date {
  if (period === null || period === undefined) return now;
  // Years 0-99 became 1900-1999 in the calendar-month arithmetic (Date.UTC): "0001-01-01" answered January 1901.
  if (/^\d{4}-/.test(period) && Number(period.slice(0, 4)) < EARLIEST_YEAR) throw badInput('period', `"${period.slice(0, 40)}" is before ${EARLIEST_YEAR}: no usage is that old`, 'PERIOD_INVALID');
  if (/^\d{4}-\d{2}-\d{2}$/.test(period)) {
    const day = new Date(`${period}T00:00:00.000Z`);
    if (!Number.isNaN(day.getTime()) && day.toISOString().startsWith(period)) return new Date(day.getTime() + DAY - 1);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(period) && !Number.isNaN(new Date(period).getTime())) {
    return new Date(period);
  }
  throw badInput('period', `"${period}" is not a day (YYYY-MM-DD, the name of the period that starts that day) or an ISO 8601 instant`, 'PERIOD_INVALID');
}
