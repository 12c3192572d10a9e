/**
 * Local calendar dates in an account's time zone. Billing days are counted on local dates, so a
 * DST change never makes a day 23 or 25 hours long for proration.
 */
import { daysInMonth, localMidnight, localParts } from '@ledgerline/contracts';

export { daysInMonth };
export interface LocalDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  readonly day: number;
}

export function localDateOf(instant: Date, tz: string): LocalDate {
  const p = localParts(instant, tz);
  return { year: p.year, month: p.month, day: p.day };
}

/** Days since 1970-01-01 of a local date (a plain day count, no time zone). */
export function dayNumber(d: LocalDate): number {
  return Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;
}

export function fromDayNumber(n: number): LocalDate {
  const date = new Date(n * 86_400_000);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}


export function formatLocalDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/**
 * The first instant of local day `d` in `tz`: 00:00, or where the clocks spring forward at midnight
 * (America/Santiago) the end of the gap; contracts' localMidnight, the rule invoicing and the
 * bill-cycle workflow count days by.
 */
export function startOfLocalDay(d: LocalDate, tz: string): Date {
  return localMidnight(d.year, d.month, d.day, tz);
}

/** The cycle day in a given month: day 29-31 bills on the last day of shorter months. */
function anchor(year: number, month: number, billCycleDay: number): LocalDate {
  return { year, month, day: Math.min(billCycleDay, daysInMonth(year, month)) };
}

function addMonths(year: number, month: number, delta: number): { year: number; month: number } {
  const index = year * 12 + (month - 1) + delta;
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

export interface BillingPeriod {
  /** First local day of the period. */
  readonly start: LocalDate;
  /** First local day of the next period (exclusive end). */
  readonly end: LocalDate;
  readonly days: number;
}

/** The monthly billing period containing local date `date` for bill-cycle day `billCycleDay`. */
export function billingPeriodOf(date: LocalDate, billCycleDay: number): BillingPeriod {
  const here = anchor(date.year, date.month, billCycleDay);
  const startMonth = date.day >= here.day ? { year: date.year, month: date.month } : addMonths(date.year, date.month, -1);
  const start = anchor(startMonth.year, startMonth.month, billCycleDay);
  const next = addMonths(startMonth.year, startMonth.month, 1);
  const end = anchor(next.year, next.month, billCycleDay);
  return { start, end, days: dayNumber(end) - dayNumber(start) };
}
