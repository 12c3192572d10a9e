import { describe, expect, it } from 'vitest';
import { daysInMonth, isTimeZone, localMidnight, localParts, startOfLocalDay, startOfLocalMonth } from './local-time';

const iso = (d: Date) => d.toISOString();

describe('local time in an IANA zone (the one local-midnight rule)', () => {
  it('a local day and month start at local midnight, not UTC midnight', () => {
    expect(iso(startOfLocalDay(new Date('2026-11-26T01:00:00Z'), 'Asia/Tokyo'))).toBe('2026-11-25T15:00:00.000Z');
    // 1 December 00:30 in Tokyo is a new month while UTC is still in November.
    expect(iso(startOfLocalMonth(new Date('2026-11-30T15:30:00Z'), 'Asia/Tokyo'))).toBe('2026-11-30T15:00:00.000Z');
    expect(localParts(new Date('2026-11-30T15:30:00Z'), 'Asia/Tokyo')).toEqual({ year: 2026, month: 12, day: 1, hour: 0, minute: 30, second: 0 });
  });

  it('DST: 23- and 25-hour days start at their local midnight; a day with no midnight at the end of the gap', () => {
    // New York springs forward at 02:00 on 8 March 2026: that day starts at 05:00Z (EST), the next at 04:00Z (EDT).
    expect(iso(startOfLocalDay(new Date('2026-03-08T20:00:00Z'), 'America/New_York'))).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(localMidnight(2026, 3, 9, 'America/New_York'))).toBe('2026-03-09T04:00:00.000Z');
    // Berlin falls back on 25 October 2026: that day is 25 hours, from 22:00Z to 23:00Z the next day.
    expect(iso(localMidnight(2026, 10, 25, 'Europe/Berlin'))).toBe('2026-10-24T22:00:00.000Z');
    expect(iso(localMidnight(2026, 10, 26, 'Europe/Berlin'))).toBe('2026-10-25T23:00:00.000Z');
    // Santiago springs forward at 24:00 on Saturday 5 September 2026: Sunday has no 00:00, it starts at 01:00 (-03) = 04:00Z.
    expect(iso(localMidnight(2026, 9, 6, 'America/Santiago'))).toBe('2026-09-06T04:00:00.000Z');
  });

  it('knows zones and month lengths', () => {
    expect([isTimeZone('Asia/Tokyo'), isTimeZone('UTC'), isTimeZone('Not/AZone'), isTimeZone(''), isTimeZone(null), isTimeZone('x'.repeat(65))]).toEqual([true, true, false, false, false, false]);
    expect([daysInMonth(2028, 2), daysInMonth(2026, 2), daysInMonth(2026, 4), daysInMonth(2026, 12)]).toEqual([29, 28, 30, 31]);
  });
});
