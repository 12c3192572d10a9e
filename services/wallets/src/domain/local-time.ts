/**
 * Local calendar days and months in a billing account's IANA time zone (the auto top-up limits
 * are a day and a month of the customer's). Pure: `now` is passed in, the zone data is Intl's.
 * The method is invoicing's `localMidnight` (and subscribers' `startOfLocalDay`); contracts has no
 * shared helper and a service may not import another's source, so wallets has its own copy.
 */

const DAY_MS = 86_400_000;

/** Valid zones only (an invalid one is never cached: the map stays as small as the zones in use). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    } catch {
      return null;
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `tz` is an IANA time zone this runtime knows ("Asia/Tokyo", "UTC"). */
export function isTimeZone(tz: unknown): tz is string {
  return typeof tz === 'string' && tz.length > 0 && tz.length <= 64 && formatter(tz) !== null;
}

function localParts(utcMs: number, f: Intl.DateTimeFormat) {
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

function offsetAt(utcMs: number, f: Intl.DateTimeFormat): number {
  const p = localParts(utcMs, f);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
}

/** The first instant of local day y-m-d: 00:00, or where the clocks spring forward at midnight (America/Santiago) the end of the gap. */
function localMidnight(year: number, month1: number, day: number, f: Intl.DateTimeFormat): Date {
  const wall = Date.UTC(year, month1 - 1, day);
  let utc = wall - offsetAt(wall, f);
  // A second pass settles the offset when midnight is near a DST switch.
  utc = wall - offsetAt(utc, f);
  // No 00:00 that day: the passes landed on the evening before; the offset before the gap gives its first instant.
  if (localParts(utc, f).day !== day) utc = wall - offsetAt(utc - DAY_MS / 2, f);
  return new Date(utc);
}

/** Start of the local day `now` falls in; UTC when the zone is unknown (null) or not a zone. */
export function startOfLocalDay(now: Date, timeZone: string | null): Date {
  const f = timeZone === null ? null : formatter(timeZone);
  if (!f) return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const p = localParts(now.getTime(), f);
  return localMidnight(p.year, p.month, p.day, f);
}

/** Start of the local month `now` falls in; UTC when the zone is unknown (null) or not a zone. */
export function startOfLocalMonth(now: Date, timeZone: string | null): Date {
  const f = timeZone === null ? null : formatter(timeZone);
  if (!f) return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const p = localParts(now.getTime(), f);
  return localMidnight(p.year, p.month, 1, f);
}

/**
 * An instant no later than the start of the local month of `now` in any zone (offsets run from
 * UTC−12 to UTC+14; a day either side covers them and any DST shift): what must be read to judge
 * a month's limit before the account's zone is known.
 */
export function earliestLocalMonthStart(now: Date): Date {
  const dayBefore = new Date(now.getTime() - DAY_MS);
  return new Date(Date.UTC(dayBefore.getUTCFullYear(), dayBefore.getUTCMonth(), 1) - DAY_MS);
}
