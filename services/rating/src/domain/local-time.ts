/**
 * Wall-clock time of an instant in an IANA timezone, without touching the system clock.
 *
 * Intl.DateTimeFormat is the only zone database Node ships, and formatToParts costs a few
 * microseconds, too much for the rating hot path. Every IANA offset in use is a whole number of
 * minutes and changes on a minute boundary, so the local date and minute-of-day of any instant
 * equal those of the start of its UTC minute: caching per (zone, UTC minute) is exact.
 */

export interface LocalTime {
  /** "YYYY-MM-DD" */
  date: string;
  /** "MM-DD", to match recurring holidays */
  monthDay: string;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
  /** minutes since local midnight, 0..1439 */
  minuteOfDay: number;
}

const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
const MAX_CACHED_MINUTES = 200_000;

export class LocalClock {
  private readonly format: Intl.DateTimeFormat;
  private readonly byMinute = new Map<number, LocalTime>();

  constructor(readonly timezone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
  }

  /** @param epochMs an instant taken from the event (never from the system clock) */
  at(epochMs: number): LocalTime {
    const minute = Math.floor(epochMs / 60_000);
    let local = this.byMinute.get(minute);
    if (local === undefined) {
      local = this.compute(minute * 60_000);
      // Bounded memory: a long-running rater sees an ever-growing range of minutes.
      if (this.byMinute.size >= MAX_CACHED_MINUTES) this.byMinute.clear();
      this.byMinute.set(minute, local);
    }
    return local;
  }

  private compute(epochMs: number): LocalTime {
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(epochMs)) parts[part.type] = part.value;
    const monthDay = `${parts.month}-${parts.day}`;
    return {
      date: `${parts.year}-${monthDay}`,
      monthDay,
      weekday: WEEKDAY_INDEX[parts.weekday],
      minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
    };
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
