import { describe, expect, it } from 'vitest';
import { billingPeriodFrom, daysInMonth, isValidTimeZone, nextPeriodEnd, periodContaining } from './bill-cycle';

describe('nextPeriodEnd', () => {
  it('ends the period at local midnight of the bill-cycle day in the same month when still ahead', () => {
    // 10 Jan 2024 in Berlin (CET, UTC+1): day 15 is ahead → 15 Jan 00:00 CET = 14 Jan 23:00Z.
    expect(nextPeriodEnd('2024-01-10T12:00:00Z', 15, 'Europe/Berlin')).toBe('2024-01-14T23:00:00.000Z');
  });

  it('moves to the next month when the day has passed', () => {
    expect(nextPeriodEnd('2024-01-20T12:00:00Z', 15, 'Europe/Berlin')).toBe('2024-02-14T23:00:00.000Z');
  });

  it('clamps day 31 to the last day of February, leap year and not', () => {
    expect(nextPeriodEnd('2024-02-01T00:00:00Z', 31, 'UTC')).toBe('2024-02-29T00:00:00.000Z');
    expect(nextPeriodEnd('2023-02-01T00:00:00Z', 31, 'UTC')).toBe('2023-02-28T00:00:00.000Z');
    expect(nextPeriodEnd('2023-02-01T00:00:00Z', 29, 'UTC')).toBe('2023-02-28T00:00:00.000Z');
  });

  it('returns to the 31st after a short month (each boundary is computed from its own month)', () => {
    const feb = nextPeriodEnd('2024-02-01T00:00:00Z', 31, 'UTC');
    const mar = nextPeriodEnd(feb, 31, 'UTC');
    const apr = nextPeriodEnd(mar, 31, 'UTC');
    expect([feb, mar, apr]).toEqual(['2024-02-29T00:00:00.000Z', '2024-03-31T00:00:00.000Z', '2024-04-30T00:00:00.000Z']);
  });

  it('is strictly after `from`: a boundary itself yields the next one', () => {
    expect(nextPeriodEnd('2024-03-01T00:00:00Z', 1, 'UTC')).toBe('2024-04-01T00:00:00.000Z');
  });

  it('follows daylight saving time: the offset of each boundary is that of its own date', () => {
    // New York: 1 Mar is EST (UTC-5), 1 Apr is EDT (UTC-4).
    expect(nextPeriodEnd('2024-02-15T00:00:00Z', 1, 'America/New_York')).toBe('2024-03-01T05:00:00.000Z');
    expect(nextPeriodEnd('2024-03-01T05:00:00Z', 1, 'America/New_York')).toBe('2024-04-01T04:00:00.000Z');
  });

  it('reads the day in the account time zone, not in UTC', () => {
    // 2024-01-31T20:00Z is already 1 Feb 05:00 in Tokyo: the day-1 boundary of Feb has passed there.
    expect(nextPeriodEnd('2024-01-31T20:00:00Z', 1, 'Asia/Tokyo')).toBe('2024-02-29T15:00:00.000Z');
    // In UTC the same instant is still 31 Jan, so 1 Feb is next.
    expect(nextPeriodEnd('2024-01-31T20:00:00Z', 1, 'UTC')).toBe('2024-02-01T00:00:00.000Z');
  });

  it('handles zones with half-hour offsets and across the year end', () => {
    expect(nextPeriodEnd('2024-12-20T00:00:00Z', 5, 'Asia/Kolkata')).toBe('2025-01-04T18:30:00.000Z');
  });

  it('starts the period at the first local instant when midnight does not exist (DST at 00:00)', () => {
    // Santiago springs forward on 8 Sep 2024 at 00:00 → 01:00 (UTC-4 → UTC-3): the day starts 04:00Z.
    expect(nextPeriodEnd('2024-09-01T12:00:00Z', 8, 'America/Santiago')).toBe('2024-09-08T04:00:00.000Z');
  });

  it('rejects a bad day or instant', () => {
    expect(() => nextPeriodEnd('2024-01-01T00:00:00Z', 0, 'UTC')).toThrow(/billCycleDay/);
    expect(() => nextPeriodEnd('2024-01-01T00:00:00Z', 32, 'UTC')).toThrow(/billCycleDay/);
    expect(() => nextPeriodEnd('yesterday', 1, 'UTC')).toThrow(/ISO-8601/);
  });
});

describe('helpers', () => {
  it('daysInMonth knows leap years', () => {
    expect([daysInMonth(2024, 2), daysInMonth(2023, 2), daysInMonth(1900, 2), daysInMonth(2000, 2), daysInMonth(2024, 4)]).toEqual([29, 28, 28, 29, 30]);
  });

  it('isValidTimeZone accepts IANA names only', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });

  it('billingPeriodFrom normalises the start and computes the end', () => {
    expect(billingPeriodFrom('2024-01-15T11:00:00+01:00', 1, 'Europe/Paris')).toEqual({
      periodStart: '2024-01-15T10:00:00.000Z',
      periodEnd: '2024-01-31T23:00:00.000Z',
    });
  });
});

describe('periodContaining', () => {
  it('starts at the last boundary at or before the instant (an account opened mid-cycle)', () => {
    // 20 Jan 2024 in Berlin, day 1: the period is 1 Jan 00:00 CET → 1 Feb 00:00 CET.
    expect(periodContaining('2024-01-20T12:00:00Z', 1, 'Europe/Berlin')).toEqual({ periodStart: '2023-12-31T23:00:00.000Z', periodEnd: '2024-01-31T23:00:00.000Z' });
    // On a boundary: the period that starts there.
    expect(periodContaining('2024-03-01T00:00:00Z', 1, 'UTC')).toEqual({ periodStart: '2024-03-01T00:00:00.000Z', periodEnd: '2024-04-01T00:00:00.000Z' });
    // Day 31 after February's clamped 29th.
    expect(periodContaining('2024-03-10T00:00:00Z', 31, 'UTC')).toEqual({ periodStart: '2024-02-29T00:00:00.000Z', periodEnd: '2024-03-31T00:00:00.000Z' });
  });
});
