import { describe, expect, it } from 'vitest';
import { cycleDaysFor, daysBetween, periodContaining, periodEndingOn } from './period';

describe('billing periods', () => {
  it('ends at local midnight on the cycle day', () => {
    const p = periodEndingOn('2026-03-31', 31, 'Europe/Berlin');
    expect(p.start.toISOString()).toBe('2026-02-27T23:00:00.000Z'); // 28 Feb 00:00 CET (clamped)
    expect(p.end.toISOString()).toBe('2026-03-30T22:00:00.000Z'); // 31 Mar 00:00 CEST
    expect(daysBetween(p.start, p.end)).toBe(31);
  });
  it('finds the open period', () => {
    const p = periodContaining(new Date('2026-09-20T10:00:00Z'), 5, 'UTC');
    expect([p.start.toISOString(), p.end.toISOString()]).toEqual(['2026-09-05T00:00:00.000Z', '2026-10-05T00:00:00.000Z']);
  });
  it('bills cycle days 28–31 on the last day of February', () => {
    expect(cycleDaysFor('2026-02-28')).toEqual([28, 29, 30, 31]);
    expect(cycleDaysFor('2026-02-10')).toEqual([10]);
  });
});
