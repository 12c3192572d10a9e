// Bill-cycle calendar: where a billing period ends, in the account's time zone.
//
// A bill-cycle day D (1–31) means a new period starts at 00:00 local time on day D of every
// month; in months shorter than D it starts on the month's last day (D = 31 → 29 Feb in a leap
// year, 30 Apr). Each boundary is computed from its own month, never from the previous boundary,
// so a D = 31 account is back on the 31st in March after February's 29th.
//
// Pure and free of Node built-ins: the bill-cycle workflow calls it. It uses the IANA time-zone
// data of the JavaScript engine (Intl); a change in that data between worker versions could in
// principle move a boundary during replay, which is why the workflow computes each boundary once
// per run and carries it into the next run as input.

export interface BillingPeriod {
  /** ISO-8601 UTC instant, inclusive. */
  periodStart: string;
  /** ISO-8601 UTC instant, exclusive: 00:00 local on the bill-cycle day. */
  periodEnd: string;
}

/** Workflow id of an account's bill cycle: one running cycle per account. */
export const billCycleWorkflowId = (billingAccountId: string): string => `bill-cycle-${billingAccountId}`;

export function isValidBillCycleDay(day: unknown): day is number {
  return typeof day === 'number' && Number.isInteger(day) && day >= 1 && day <= 31;
}

export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function daysInMonth(year: number, month1: number): number {
  // Day 0 of the next month is the last day of this one; UTC avoids any local-zone effect.
  return new Date(Date.UTC(year, month1, 0)).getUTCDate();
}

/**
 * The first period boundary strictly after `from`.
 * @param from ISO-8601 instant (any offset) or Date
 * @returns ISO-8601 UTC instant of 00:00 local time on the (clamped) bill-cycle day
 */
export function nextPeriodEnd(from: string | Date, billCycleDay: number, timeZone: string): string {
  if (!isValidBillCycleDay(billCycleDay)) throw new RangeError(`billCycleDay must be an integer 1–31 (got ${billCycleDay})`);
  const fromMs = typeof from === 'string' ? Date.parse(from) : from.getTime();
  if (Number.isNaN(fromMs)) throw new RangeError(`not an ISO-8601 instant: ${String(from)}`);

  const local = localParts(fromMs, timeZone);
  // The boundary in the month of `from`, else the next month's: one of the two is after `from`.
  for (let i = 0; i < 2; i++) {
    const y = local.year + Math.floor((local.month - 1 + i) / 12);
    const m = ((local.month - 1 + i) % 12) + 1;
    const d = Math.min(billCycleDay, daysInMonth(y, m));
    const boundary = localMidnightToUtc(y, m, d, timeZone);
    if (boundary > fromMs) return new Date(boundary).toISOString();
  }
  /* c8 ignore next */
  throw new Error('unreachable: next month always has a boundary after from');
}

/** The period that starts at `periodStart` (a boundary, or the account's start date). */
export function billingPeriodFrom(periodStart: string, billCycleDay: number, timeZone: string): BillingPeriod {
  return { periodStart: new Date(Date.parse(periodStart)).toISOString(), periodEnd: nextPeriodEnd(periodStart, billCycleDay, timeZone) };
}

// ---- time-zone arithmetic with Intl only ---------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(utcMs: number, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second };
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in ms (e.g. +3_600_000 for CET). */
function offsetAt(utcMs: number, timeZone: string): number {
  const p = localParts(utcMs, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The UTC instant of 00:00 local on y-m-d. Two passes settle the offset across a DST change.
 * Where midnight does not exist (a zone that springs forward at 00:00) the result is the first
 * local instant of that day, e.g. 01:00.
 */
function localMidnightToUtc(year: number, month1: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month1 - 1, day);
  let utc = wall - offsetAt(wall, timeZone);
  utc = wall - offsetAt(utc, timeZone);
  const p = localParts(utc, timeZone);
  if (p.day !== day) {
    // Midnight fell in a spring-forward gap and we landed on the previous evening. The offset in
    // force before the gap maps the wall time onto the instant the gap ends (local 01:00).
    utc = wall - offsetAt(utc - 43_200_000, timeZone);
  }
  return utc;
}
