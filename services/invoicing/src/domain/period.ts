// Billing-period calendar in the account's time zone. A bill-cycle day D (1–31) means a period
// starts at 00:00 local time on day D of each month, clamped to the month's last day. Pure: uses
// only Intl time-zone data, through contracts' local-time (the one local-midnight rule).
import { daysInMonth, isTimeZone, localMidnight, localParts, startOfLocalDay } from '@ledgerline/contracts';

const DAY_MS = 86_400_000;

export interface Period {
  /** Inclusive UTC instant. */
  start: Date;
  /** Exclusive UTC instant. */
  end: Date;
}

/** Whether `tz` is an IANA time zone (the account's billing days are counted in it). */
export const isValidTimeZone = (tz: string): boolean => isTimeZone(tz);

export { daysInMonth, localMidnight, startOfLocalDay };

/** The period boundary (00:00 local on the clamped cycle day) in the given local month. */
export function boundaryIn(year: number, month1: number, billCycleDay: number, timeZone: string): Date {
  return localMidnight(year, month1, Math.min(billCycleDay, daysInMonth(year, month1)), timeZone);
}

/**
 * The period that ends on the cycle date `cycleDate` ("YYYY-MM-DD", local to the account): from
 * the boundary one month earlier to 00:00 local on the cycle date.
 */
export function periodEndingOn(cycleDate: string, billCycleDay: number, timeZone: string): Period {
  const [y, m] = cycleDate.split('-').map(Number) as [number, number];
  const end = boundaryIn(y, m, billCycleDay, timeZone);
  const prevY = m === 1 ? y - 1 : y;
  const prevM = m === 1 ? 12 : m - 1;
  return { start: boundaryIn(prevY, prevM, billCycleDay, timeZone), end };
}

/** The period containing `at`. */
export function periodContaining(at: Date, billCycleDay: number, timeZone: string): Period {
  const p = localParts(at, timeZone);
  let end = boundaryIn(p.year, p.month, billCycleDay, timeZone);
  let y = p.year;
  let m = p.month;
  if (end.getTime() <= at.getTime()) {
    y = m === 12 ? y + 1 : y;
    m = m === 12 ? 1 : m + 1;
    end = boundaryIn(y, m, billCycleDay, timeZone);
  }
  const prevY = m === 1 ? y - 1 : y;
  const prevM = m === 1 ? 12 : m - 1;
  return { start: boundaryIn(prevY, prevM, billCycleDay, timeZone), end };
}

/**
 * Whole local days between two boundaries (a 23 h or 25 h DST day counts as one). Only for local
 * midnights: between instants inside days it rounds, and rounded pieces of a period need not add
 * up to its days (a change at noon made both halves round up: the change day billed twice). Prorate
 * with `periodDays` instead.
 */
export function daysBetween(from: Date, to: Date): number {
  return Math.max(0, Math.round((to.getTime() - from.getTime()) / DAY_MS));
}


export interface PeriodDays {
  /** Local days in the period. */
  total: number;
  /** Whole local days from the period start to the start of `at`'s local day, within 0…total. */
  dayOf(at: Date): number;
  /** The instant `dayOf` counts to: the start of `at`'s local day, kept within the period. */
  startOf(at: Date): Date;
}

/**
 * The day rule of every proration (recurring fees, discount validity): an instant inside the
 * period counts from the start of its local day, so a day on which something changes belongs
 * wholly to what is in effect at its end — the change day to the new plan (as subscribers' plan
 * change quote has it), the day a discount starts to the discount, the day a line or a discount
 * ends to nothing of what ended. The days of [from, to) are dayOf(to) − dayOf(from): they
 * telescope, so the pieces of any partition of the period add up to exactly `total`, each day once.
 */
export function periodDays(period: Period, timeZone: string): PeriodDays {
  const total = daysBetween(period.start, period.end);
  const startOf = (at: Date): Date => {
    if (at <= period.start) return period.start;
    if (at >= period.end) return period.end;
    const day = startOfLocalDay(at, timeZone);
    return day > period.start ? day : period.start;
  };
  const dayOf = (at: Date): number => {
    const day = startOf(at);
    if (day.getTime() === period.end.getTime()) return total;
    return Math.min(total, daysBetween(period.start, day));
  };
  return { total, dayOf, startOf };
}

const CYCLE_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export function isCycleDate(value: string): boolean {
  const m = CYCLE_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

/** The cycle day a cycle date bills: day D, or every D ≥ last day of a short month. */
export function cycleDaysFor(cycleDate: string): number[] {
  const [y, m, d] = cycleDate.split('-').map(Number) as [number, number, number];
  const last = daysInMonth(y, m);
  if (d < last) return [d];
  const days: number[] = [];
  for (let day = d; day <= 31; day++) days.push(day);
  return days;
}
