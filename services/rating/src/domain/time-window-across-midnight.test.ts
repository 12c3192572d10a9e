/**
 * A time-band window that wraps midnight and is restricted to day types (review, 2026-11-29).
 * `days` was matched against the day of the event's minute, so a weekend night 22:00 → 06:00 took
 * Saturday 01:00 (Friday's night) and left out Monday 02:00 (Sunday's night). As tariffs read and
 * operators expect, a night belongs to the day it started on: the minutes after midnight of a
 * window that wraps are matched against the day before. The `dayType` fact stays the event's own
 * calendar day.
 */
import { describe, expect, it } from 'vitest';
import { PlanFactTables } from './derive-facts';
import type { PlanDocument } from './plan-types';

const planWith = (windows: unknown[], holidays: string[] = []) =>
  ({
    timezone: 'Europe/Berlin',
    allowances: [],
    calendar: { weekendDays: ['SAT', 'SUN'], holidays },
    timeBands: { default: 'OFFPEAK', windows },
    zones: { homeCountry: 'DE' },
  }) as unknown as PlanDocument;
const bandAt = (tables: PlanFactTables, iso: string) => ({ at: iso, band: tables.timeBand(Date.parse(iso)) });

describe('a weekend window 22:00 → 06:00 (Europe/Berlin, CET = UTC+1 in March 2026)', () => {
  const tables = new PlanFactTables(planWith([{ band: 'NIGHT', days: ['WEEKEND'], from: '22:00', to: '06:00' }]));

  it('Sunday night runs into Monday morning: Monday 02:00 and 05:59 are in, Monday 06:00 is not', () => {
    // 2026-03-01 is a Sunday, 2026-03-02 a Monday.
    for (const at of ['2026-03-01T22:00:00Z' /* Sun 23:00 */, '2026-03-02T01:00:00Z' /* Mon 02:00 */, '2026-03-02T04:59:00Z' /* Mon 05:59 */]) {
      expect(bandAt(tables, at)).toEqual({ at, band: 'NIGHT' });
    }
    expect(bandAt(tables, '2026-03-02T05:00:00Z')).toEqual({ at: '2026-03-02T05:00:00Z', band: 'OFFPEAK' });
    // The dayType fact is still the event's own day.
    expect(tables.dayType(Date.parse('2026-03-02T01:00:00Z'))).toBe('WEEKDAY');
  });

  it('Friday night is not a weekend night: Saturday 01:00 is out, Saturday 23:00 and Sunday 03:00 are in', () => {
    // 2026-02-27 is a Friday.
    for (const at of ['2026-02-27T21:30:00Z' /* Fri 22:30 */, '2026-02-28T00:00:00Z' /* Sat 01:00 */, '2026-02-28T04:00:00Z' /* Sat 05:00 */]) {
      expect(bandAt(tables, at)).toEqual({ at, band: 'OFFPEAK' });
    }
    for (const at of ['2026-02-28T22:00:00Z' /* Sat 23:00 */, '2026-03-01T02:00:00Z' /* Sun 03:00 */]) {
      expect(bandAt(tables, at)).toEqual({ at, band: 'NIGHT' });
    }
    expect(tables.dayType(Date.parse('2026-02-28T00:00:00Z'))).toBe('WEEKEND');
  });

  it('a window that does not wrap is matched against the event\'s own day (Saturday 00:00 → 06:00)', () => {
    const early = new PlanFactTables(planWith([{ band: 'NIGHT', days: ['WEEKEND'], from: '00:00', to: '06:00' }]));
    expect(bandAt(early, '2026-02-28T00:00:00Z')).toEqual({ at: '2026-02-28T00:00:00Z', band: 'NIGHT' });
    expect(bandAt(early, '2026-03-02T01:00:00Z')).toEqual({ at: '2026-03-02T01:00:00Z', band: 'OFFPEAK' });
  });

  it('a window from 24:00 starts at the end of its day: 24:00 → 06:00 on WEEKEND is Sunday and Monday 00:00–06:00', () => {
    const late = new PlanFactTables(planWith([{ band: 'NIGHT', days: ['WEEKEND'], from: '24:00', to: '06:00' }]));
    expect(['2026-02-28T00:00:00Z', '2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z'].map((at) => late.timeBand(Date.parse(at)))).toEqual(['OFFPEAK', 'NIGHT', 'NIGHT']);
  });

  it('first match wins among the windows that hold the minute on their own start day', () => {
    const two = new PlanFactTables(planWith([
      { band: 'NIGHT', days: ['WEEKEND'], from: '22:00', to: '06:00' },
      { band: 'PEAK', days: ['WEEKDAY'], from: '00:00', to: '24:00' },
    ]));
    expect(bandAt(two, '2026-03-02T01:00:00Z')).toEqual({ at: '2026-03-02T01:00:00Z', band: 'NIGHT' }); // Mon 02:00, Sunday's night
    expect(bandAt(two, '2026-02-28T00:00:00Z')).toEqual({ at: '2026-02-28T00:00:00Z', band: 'OFFPEAK' }); // Sat 01:00: neither
    expect(bandAt(two, '2026-03-03T01:00:00Z')).toEqual({ at: '2026-03-03T01:00:00Z', band: 'PEAK' }); // Tue 02:00: Monday's night is not a weekend's
  });
});

describe('a holiday night and a DST change', () => {
  it('the night of 25 December runs into 26 December; the night before it does not count', () => {
    const tables = new PlanFactTables(planWith([{ band: 'NIGHT', days: ['HOLIDAY'], from: '22:00', to: '06:00' }], ['12-25']));
    expect(bandAt(tables, '2026-12-26T01:00:00Z')).toEqual({ at: '2026-12-26T01:00:00Z', band: 'NIGHT' }); // 26 Dec 02:00
    expect(bandAt(tables, '2026-12-25T01:00:00Z')).toEqual({ at: '2026-12-25T01:00:00Z', band: 'OFFPEAK' }); // 25 Dec 02:00, 24 Dec's night
    expect(bandAt(tables, '2026-12-25T22:00:00Z')).toEqual({ at: '2026-12-25T22:00:00Z', band: 'NIGHT' }); // 25 Dec 23:00
  });

  it('the day before is the local calendar day, also in a night that has 25 hours (25 October 2026)', () => {
    // Saturday 24 October is a holiday; Sunday 25 October clocks go back at 03:00 CEST → 02:00 CET.
    const tables = new PlanFactTables(planWith([{ band: 'NIGHT', days: ['HOLIDAY'], from: '22:00', to: '06:00' }], ['2026-10-24']));
    // 02:30 CET the second time (01:30Z) and 05:30 CET (04:30Z) belong to Saturday's night.
    for (const at of ['2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-10-25T04:30:00Z']) {
      expect(bandAt(tables, at)).toEqual({ at, band: 'NIGHT' });
    }
    expect(bandAt(tables, '2026-10-25T05:00:00Z')).toEqual({ at: '2026-10-25T05:00:00Z', band: 'OFFPEAK' }); // 06:00 CET
  });
});
