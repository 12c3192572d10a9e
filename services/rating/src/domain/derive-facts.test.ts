import { describe, expect, it } from 'vitest';
import { PlanFactTables } from './derive-facts';
import { LocalClock } from './local-time';
import type { PlanDocument } from './plan-types';

const plan = {
  timezone: 'Europe/Berlin',
  allowances: [{ id: 'data', unit: 'MB', quantity: '1', usageTypes: ['DATA'], validity: 'PERIOD' }],
  calendar: { weekendDays: ['SAT', 'SUN'], holidays: ['12-25', '2025-04-18'] },
  timeBands: { default: 'OFFPEAK', windows: [{ band: 'NIGHT', from: '22:00', to: '07:00' }, { band: 'PEAK', days: ['WEEKDAY'], from: '08:00', to: '19:00' }] },
  zones: {
    homeCountry: 'DE', homeMccs: ['262'], countryCallingCode: '+49',
    destinations: { default: 'INTERNATIONAL', prefixes: [{ prefix: '+49', zone: 'NATIONAL' }, { prefix: '+4915', zone: 'MOBILE' }, { prefix: '+33', zone: 'EU' }] },
    premiumPrefixes: ['+49900'],
    roaming: { default: 'WORLD2', zones: [{ zone: 'EU', countries: ['FR'], mccs: ['208'] }] },
  },
} as unknown as PlanDocument;
const tables = new PlanFactTables(plan);
const at = (iso: string) => Date.parse(iso);

describe('derived facts', () => {
  it('destination zone: longest prefix, national and 00 formats, NONE without a number', () => {
    expect(tables.destinationZone('+4915112345')).toBe('MOBILE');
    expect(tables.destinationZone('030 123456')).toBe('NATIONAL');
    expect(tables.destinationZone('0033612345678')).toBe('EU');
    expect(tables.destinationZone('+81312345678')).toBe('INTERNATIONAL');
    expect(tables.destinationZone(undefined)).toBe('NONE');
    expect(tables.isPremium('0900 123456')).toBe(true);
    expect(tables.isPremium('+4930123')).toBe(false);
  });

  it('roaming zone: home MCC or country is HOME, MCC wins over country, unknown is the default zone', () => {
    expect(tables.roamingZone({ visitedMcc: '262' } as never)).toBe('HOME');
    expect(tables.roamingZone({ roamingCountry: 'DE' } as never)).toBe('HOME');
    expect(tables.roamingZone({ visitedMcc: '208', roamingCountry: 'US' } as never)).toBe('EU');
    expect(tables.roamingZone({ roamingCountry: 'TH' } as never)).toBe('WORLD2');
    expect(tables.roamingZone({} as never)).toBe('HOME');
  });

  it('time band and day type in the plan timezone, across DST and holidays', () => {
    // 2025-03-14 is a Friday; 07:30Z is 08:30 in Berlin (CET, +1) → PEAK.
    expect(tables.timeBand(at('2025-03-14T07:30:00Z'))).toBe('PEAK');
    // 2025-07-14 (CEST, +2): 17:30Z is 19:30 local → after PEAK → OFFPEAK; 20:30Z is 22:30 → NIGHT.
    expect(tables.timeBand(at('2025-07-14T17:30:00Z'))).toBe('OFFPEAK');
    expect(tables.timeBand(at('2025-07-14T20:30:00Z'))).toBe('NIGHT');
    // Saturday morning is not PEAK (weekday-only window).
    expect(tables.timeBand(at('2025-03-15T09:00:00Z'))).toBe('OFFPEAK');
    expect(tables.dayType(at('2025-03-15T09:00:00Z'))).toBe('WEEKEND');
    // 23:30Z on 24 Dec is 00:30 on 25 Dec in Berlin: a recurring holiday.
    expect(tables.dayType(at('2025-12-24T23:30:00Z'))).toBe('HOLIDAY');
    expect(tables.dayType(at('2025-04-18T10:00:00Z'))).toBe('HOLIDAY');
    expect(tables.dayType(at('2026-04-17T10:00:00Z'))).toBe('WEEKDAY');
  });

  it('local clock agrees with Intl on both sides of a DST change, minute by minute', () => {
    const clock = new LocalClock('Europe/Berlin');
    const format = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
    // 2025-03-30 01:00Z is the spring-forward instant.
    for (let ms = Date.parse('2025-03-30T00:00:00Z'); ms < Date.parse('2025-03-30T03:00:00Z'); ms += 7 * 60_000) {
      const [h, m] = format.format(ms).split(':').map(Number);
      expect(clock.at(ms).minuteOfDay).toBe(h * 60 + m);
    }
  });

  it('the relevant allowance is the first one covering the usage type', () => {
    expect(tables.relevantAllowance('DATA')).toBe('data');
    expect(tables.relevantAllowance('VOICE')).toBeUndefined();
  });
});
