import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { earliestLocalMonthStart, isTimeZone, startOfLocalDay, startOfLocalMonth } from './local-time';
import { requestedInWindows } from './auto-topup';

const iso = (d: Date) => d.toISOString();

describe('local day and month of an account', () => {
  it('Tokyo: 01:00 and 10:00 of 26 November are one day, which began at 15:00Z the day before', () => {
    expect(iso(startOfLocalDay(new Date('2026-11-25T16:00:00Z'), 'Asia/Tokyo'))).toBe('2026-11-25T15:00:00.000Z');
    expect(iso(startOfLocalDay(new Date('2026-11-26T01:00:00Z'), 'Asia/Tokyo'))).toBe('2026-11-25T15:00:00.000Z');
    // 1 December 00:30 in Tokyo is a new month while UTC is still in November.
    expect(iso(startOfLocalMonth(new Date('2026-11-30T15:30:00Z'), 'Asia/Tokyo'))).toBe('2026-11-30T15:00:00.000Z');
  });
  it('unknown or invalid zone: UTC', () => {
    expect(iso(startOfLocalDay(new Date('2026-11-25T16:00:00Z'), null))).toBe('2026-11-25T00:00:00.000Z');
    expect(iso(startOfLocalMonth(new Date('2026-11-25T16:00:00Z'), 'Not/AZone'))).toBe('2026-11-01T00:00:00.000Z');
    expect([isTimeZone('Asia/Tokyo'), isTimeZone('UTC'), isTimeZone('Not/AZone'), isTimeZone(''), isTimeZone(null)]).toEqual([true, true, false, false, false]);
  });
  it('DST: a day of 23 or 25 hours starts at local midnight; where midnight is skipped, at the end of the gap', () => {
    // New York springs forward at 02:00 on 8 March 2026: that day starts at 05:00Z (EST), the next at 04:00Z (EDT).
    expect(iso(startOfLocalDay(new Date('2026-03-08T20:00:00Z'), 'America/New_York'))).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(startOfLocalDay(new Date('2026-03-09T03:59:00Z'), 'America/New_York'))).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(startOfLocalDay(new Date('2026-03-09T04:00:00Z'), 'America/New_York'))).toBe('2026-03-09T04:00:00.000Z');
    // Berlin's month of March 2026 began in winter time; April in summer time.
    expect(iso(startOfLocalMonth(new Date('2026-03-31T12:00:00Z'), 'Europe/Berlin'))).toBe('2026-02-28T23:00:00.000Z');
    expect(iso(startOfLocalMonth(new Date('2026-04-01T12:00:00Z'), 'Europe/Berlin'))).toBe('2026-03-31T22:00:00.000Z');
    // Santiago springs forward at 24:00 on Saturday 5 September 2026: Sunday has no 00:00, it starts at 01:00 (-03) = 04:00Z.
    expect(iso(startOfLocalDay(new Date('2026-09-06T12:00:00Z'), 'America/Santiago'))).toBe('2026-09-06T04:00:00.000Z');
  });
  it('what is read covers the local month of every zone', () => {
    for (const now of ['2026-11-30T23:59:00Z', '2026-12-01T00:00:00Z', '2026-12-01T11:00:00Z', '2026-03-01T00:30:00Z']) {
      const at = new Date(now);
      for (const tz of ['Pacific/Kiritimati', 'Etc/GMT+12', 'Pacific/Pago_Pago', 'Asia/Tokyo', 'UTC', 'America/Santiago']) {
        expect(earliestLocalMonthStart(at).getTime(), `${now} ${tz}`).toBeLessThanOrEqual(startOfLocalMonth(at, tz).getTime());
      }
    }
  });
});

describe('auto top-up requests counted per local day and month', () => {
  it('sums the requests of the account\'s day and month', () => {
    const r = (at: string, amount: string) => ({ at: new Date(at), amount: new Decimal(amount) });
    const requests = [r('2026-10-31T16:00:00Z', '5'), r('2026-11-01T01:00:00Z', '7'), r('2026-11-25T14:59:59Z', '11'), r('2026-11-25T16:00:00Z', '20')];
    const tokyo = requestedInWindows(requests, new Date('2026-11-26T01:00:00Z'), 'Asia/Tokyo');
    // 31 October 16:00Z is 1 November 01:00 in Tokyo: in its month.
    expect([tokyo.today.toFixed(), tokyo.month.toFixed()]).toEqual(['20', '43']);
    // In UTC the 16:00Z request was on 25 November, and 31 October 16:00Z is October.
    const utc = requestedInWindows(requests, new Date('2026-11-26T01:00:00Z'), null);
    expect([utc.today.toFixed(), utc.month.toFixed()]).toEqual(['0', '38']);
  });
});
