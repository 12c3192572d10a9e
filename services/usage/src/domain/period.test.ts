import { describe, expect, it } from 'vitest';
import { monthPeriod } from './period';

describe('monthPeriod', () => {
  it('defaults to the month of now and is half-open', () => {
    const p = monthPeriod(undefined, new Date('2026-02-14T10:00:00Z'));
    expect(p).toEqual({ period: '2026-02', start: new Date('2026-02-01T00:00:00Z'), end: new Date('2026-03-01T00:00:00Z') });
  });
  it('rolls December into January', () => {
    expect(monthPeriod('2026-12', new Date()).end).toEqual(new Date('2027-01-01T00:00:00Z'));
  });
  it.each(['2026-13', '2026-1', 'last month'])('rejects %s', (p) => {
    expect(() => monthPeriod(p, new Date())).toThrow(/YYYY-MM/);
  });
});
