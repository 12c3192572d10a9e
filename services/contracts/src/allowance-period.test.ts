import { describe, expect, it } from 'vitest';
import { allowancePeriodAt, periodEndOf, type FeePeriod } from './allowance-period';

/** The periods as wallets' renewal job walks them, one `periodEndOf` at a time. */
function walked(anchor: Date, fee: FeePeriod, at: Date): { start: Date; end: Date } {
  let start = anchor;
  while (periodEndOf(start, fee, anchor) <= at) start = periodEndOf(start, fee, anchor);
  return { start, end: periodEndOf(start, fee, anchor) };
}

describe('allowance periods', () => {
  it('are named by their first day and run from the subscription start, not the calendar month', () => {
    const anchor = new Date('2026-11-15T09:30:00Z');
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-12-01T00:00:00Z'))).toEqual({ period: '2026-11-15', start: anchor, end: new Date('2026-12-15T09:30:00Z') });
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-12-15T09:30:00Z')).period).toBe('2026-12-15');
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-12-15T09:29:59.999Z')).period).toBe('2026-11-15');
    expect(allowancePeriodAt(anchor, 'DAYS30', new Date('2027-01-14T09:30:00Z')).period).toBe('2027-01-14');
    expect(allowancePeriodAt(anchor, 'WEEK', new Date('2026-11-22T09:29:00Z')).period).toBe('2026-11-15');
    // Before the start: the first period.
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-11-01T00:00:00Z')).period).toBe('2026-11-15');
  });

  it('keep the day of the month without drifting after a short month', () => {
    const anchor = new Date('2026-01-31T09:30:00Z');
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-03-01T00:00:00Z'))).toEqual({ period: '2026-02-28', start: new Date('2026-02-28T09:30:00Z'), end: new Date('2026-03-31T09:30:00Z') });
    expect(allowancePeriodAt(anchor, 'MONTH', new Date('2026-04-30T10:00:00Z')).period).toBe('2026-04-30');
  });

  it('are the periods the renewal job walks, for every anchor, fee period and moment', () => {
    const anchors = ['2026-01-31T09:30:00Z', '2024-02-29T23:59:59.999Z', '2026-03-30T00:00:00Z', '2025-12-01T00:00:00Z', '2026-08-15T12:00:00Z'].map((a) => new Date(a));
    for (const fee of ['MONTH', 'DAYS30', 'WEEK'] as const) {
      for (const anchor of anchors) {
        // Every 37 hours over three years, and every boundary and the instant before it.
        for (let t = anchor.getTime(); t < anchor.getTime() + 3 * 366 * 86_400_000; t += 37 * 3_600_000) {
          const at = new Date(t);
          const expected = walked(anchor, fee, at);
          const got = allowancePeriodAt(anchor, fee, at);
          expect({ start: got.start, end: got.end }, `${fee} ${anchor.toISOString()} at ${at.toISOString()}`).toEqual(expected);
          for (const edge of [got.end, new Date(got.end.getTime() - 1)]) {
            const e = allowancePeriodAt(anchor, fee, edge);
            expect({ start: e.start, end: e.end }).toEqual(walked(anchor, fee, edge));
          }
        }
      }
    }
  });
});
