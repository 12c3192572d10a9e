/**
 * Local calendar dates in an account's time zone. Billing days are counted on local dates, so a
 * DST change never makes a day 23 or 25 hours long for proration.
 */
export interface LocalDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  readonly day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(tz, f);
  }
  return f;
}

function parts(instant: Date, tz: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(instant)) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

export function localDateOf(instant: Date, tz: string): LocalDate {
  const p = parts(instant, tz);
  return { year: p.year!, month: p.month!, day: p.day! };
}

/** Days since 1970-01-01 of a local date (a plain day count, no time zone). */
export function dayNumber(d: LocalDate): number {
  return Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;
}

export function fromDayNumber(n: number): LocalDate {
  const date = new Date(n * 86_400_000);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function formatLocalDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** The instant at which local midnight of `d` happens in `tz`. */
export function startOfLocalDay(d: LocalDate, tz: string): Date {
  const guess = Date.UTC(d.year, d.month - 1, d.day);
  let instant = guess - offsetMs(new Date(guess), tz);
  // A second pass settles the offset when midnight is near a DST switch.
  instant = guess - offsetMs(new Date(instant), tz);
  // Where the clocks spring forward at midnight (America/Santiago, America/Havana) the day has no
  // 00:00 and the passes land on the evening before; the offset in force before the gap gives the
  // day's first instant (01:00), as invoicing's localMidnight and the bill-cycle workflow do.
  if (parts(new Date(instant), tz).day !== d.day) instant = guess - offsetMs(new Date(instant - 43_200_000), tz);
  return new Date(instant);
}

function offsetMs(instant: Date, tz: string): number {
  const p = parts(instant, tz);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
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
