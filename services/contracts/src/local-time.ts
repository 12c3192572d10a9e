/**
 * Local calendar time in an IANA time zone, with Intl only: the one rule for "the start of a
 * customer's day" that bill cycles, proration, plan changes and auto top-up limits share.
 *
 * Pure and dependency-free on purpose: workflow code imports it (as
 * `@ledgerline/contracts/local-time`) and Temporal's workflow bundle may not pull in Node modules
 * such as `node:crypto`, which contracts' entry point does.
 */

export interface LocalParts {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const DAY_MS = 86_400_000;

/** Valid zones only: an invalid one throws in the constructor and is never cached. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows ("Asia/Tokyo", "UTC"). */
export function isTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone === '' || timeZone.length > 64) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of instant `at` (a Date or epoch ms) in `timeZone`. */
export function localParts(at: Date | number, timeZone: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(typeof at === 'number' ? new Date(at) : at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

/**
 * The local date (YYYY-MM-DD) of instant `at` in `timeZone`, as documents and invoice lines print
 * days: a billing period's bounds are local midnights, which in UTC fall on the day before east of
 * Greenwich (Europe/Berlin: 22:00Z/23:00Z).
 */
export function localDay(at: Date | number, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${String(p.year).padStart(4, '0')}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in ms (+3_600_000 for CET). */
function offsetAt(utcMs: number, timeZone: string): number {
  const p = localParts(utcMs, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The first instant of local day y-m-d: 00:00, or where the clocks spring forward at midnight
 * (America/Santiago, America/Havana) the end of the gap (01:00). Two passes settle the offset
 * near a DST switch.
 */
export function localMidnight(year: number, month1: number, day: number, timeZone: string): Date {
  const wall = Date.UTC(year, month1 - 1, day);
  let utc = wall - offsetAt(wall, timeZone);
  utc = wall - offsetAt(utc, timeZone);
  // No 00:00 that day: the passes landed on the evening before; the offset in force before the gap gives its first instant.
  if (localParts(utc, timeZone).day !== day) utc = wall - offsetAt(utc - DAY_MS / 2, timeZone);
  return new Date(utc);
}

/** The first instant of the local day `at` falls in. */
export function startOfLocalDay(at: Date, timeZone: string): Date {
  const p = localParts(at, timeZone);
  return localMidnight(p.year, p.month, p.day, timeZone);
}

/** The first instant of the local month `at` falls in. */
export function startOfLocalMonth(at: Date, timeZone: string): Date {
  const p = localParts(at, timeZone);
  return localMidnight(p.year, p.month, 1, timeZone);
}

/** Days in a calendar month (month 1..12). */
export function daysInMonth(year: number, month1: number): number {
  return new Date(Date.UTC(year, month1, 0)).getUTCDate();
}
