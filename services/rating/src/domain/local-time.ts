/**
 * Wall-clock time of an instant in an IANA timezone, without touching the system clock.
 *
 * Intl.DateTimeFormat is the only zone database Node ships, and formatToParts costs a few
 * microseconds: too much per event. So it is asked only for the UTC offset, once per UTC day:
 * when the offset at the start and at the end of the day agree, the day has no transition and
 * that offset holds all day (tzdb has no zone with two transitions in one day that cancel out);
 * otherwise the offset is looked up per UTC quarter-hour (every transition in use happens on a
 * quarter-hour boundary, e.g. Lord Howe's at 15:30 UTC). Local fields then follow by integer
 * arithmetic on (instant + offset).
 */

/** A local calendar day. */
export interface LocalDate {
  /** "YYYY-MM-DD" */
  date: string;
  /** "MM-DD", to match recurring holidays */
  monthDay: string;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
  /** days since 1970-01-01 in local time: `dayOf(localDay - 1)` is the day before */
  localDay: number;
}

export interface LocalTime extends LocalDate {
  /** minutes since local midnight, 0..1439 */
  minuteOfDay: number;
}

const MINUTE_MS = 60_000;
const QUARTER_MS = 15 * MINUTE_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;
const MAX_CACHED = 100_000;

function setBounded<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= MAX_CACHED) map.clear();
  map.set(key, value);
  return value;
}

export class LocalClock {
  private readonly format: Intl.DateTimeFormat;
  /** UTC day number → offset in ms, or null when the offset changes that day. */
  private readonly offsetByUtcDay = new Map<number, number | null>();
  private readonly offsetByQuarter = new Map<number, number>();
  /** Local day number → its date strings. */
  private readonly datesByLocalDay = new Map<number, { date: string; monthDay: string }>();

  constructor(readonly timezone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
  }

  /** @param epochMs an instant taken from the event (never from the system clock) */
  at(epochMs: number): LocalTime {
    const localMs = epochMs + this.offsetAt(epochMs);
    const localDay = Math.floor(localMs / DAY_MS);
    const day = this.dayOf(localDay);
    return { date: day.date, monthDay: day.monthDay, weekday: day.weekday, localDay, minuteOfDay: Math.floor((localMs - localDay * DAY_MS) / MINUTE_MS) };
  }

  /**
   * A local calendar day by its number (`at(…).localDay`): counted in local days, so the day before
   * is `localDay - 1` even across a DST change, when local midnight is not 24 hours back.
   */
  dayOf(localDay: number): LocalDate {
    const dates = this.datesByLocalDay.get(localDay) ?? setBounded(this.datesByLocalDay, localDay, this.datesOf(localDay));
    return {
      date: dates.date,
      monthDay: dates.monthDay,
      // Day 0 (1970-01-01) was a Thursday, index 3 when Monday is 0.
      weekday: (((localDay + 3) % 7) + 7) % 7,
      localDay,
    };
  }

  private offsetAt(epochMs: number): number {
    const utcDay = Math.floor(epochMs / DAY_MS);
    let dayOffset = this.offsetByUtcDay.get(utcDay);
    if (dayOffset === undefined) {
      const start = this.computeOffset(utcDay * DAY_MS);
      const end = this.computeOffset((utcDay + 1) * DAY_MS - MINUTE_MS);
      dayOffset = setBounded(this.offsetByUtcDay, utcDay, start === end ? start : null);
    }
    if (dayOffset !== null) return dayOffset;
    const quarter = Math.floor(epochMs / QUARTER_MS);
    return this.offsetByQuarter.get(quarter) ?? setBounded(this.offsetByQuarter, quarter, this.computeOffset(quarter * QUARTER_MS));
  }

  /** Offset of the zone at a minute-aligned instant, in ms (local = UTC + offset). */
  private computeOffset(epochMs: number): number {
    const parts: Record<string, number> = {};
    for (const part of this.format.formatToParts(epochMs)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
    const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
    return asUtc - epochMs;
  }

  private datesOf(localDay: number): { date: string; monthDay: string } {
    const iso = new Date(localDay * DAY_MS).toISOString();
    return { date: iso.slice(0, 10), monthDay: iso.slice(5, 10) };
  }
}

export function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** "HH:MM" → minutes since midnight ("24:00" → 1440). */
export function parseLocalTime(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':');
  return Number(hours) * 60 + Number(minutes);
}
