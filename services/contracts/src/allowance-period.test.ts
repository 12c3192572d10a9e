import { describe, expect, it } from 'vitest';
import { allowancePeriodAt, periodEndOf, unusedDaysRefund, type FeePeriod } from './allowance-period';
import { Decimal } from './money';

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

describe('unused days of a prepaid period', () => {
  const period = { start: new Date('2026-11-01T09:30:00Z'), end: new Date('2026-12-01T09:30:00Z') };
  it('gives back the whole days after the end (its own day counts as used), half-even to the cent', () => {
    expect(unusedDaysRefund(new Decimal('15.00'), period, new Date('2026-11-21T12:00:00Z'), 'EUR')).toEqual({ unusedDays: 9, periodDays: 30, amount: new Decimal('4.5') });
    expect(unusedDaysRefund(new Decimal('10.00'), period, new Date('2026-11-02T09:30:00Z'), 'EUR').amount.toFixed()).toBe('9.67'); // 29/30 of 10
    expect(unusedDaysRefund(new Decimal('1000'), period, new Date('2026-11-02T09:30:00Z'), 'JPY').amount.toFixed()).toBe('967');
  });
  it('gives nothing back at or after the end, and everything for a period that never began', () => {
    expect(unusedDaysRefund(new Decimal('15'), period, period.end, 'EUR').amount.isZero()).toBe(true);
    expect(unusedDaysRefund(new Decimal('15'), period, new Date('2026-11-30T12:00:00Z'), 'EUR').amount.isZero()).toBe(true); // less than a whole day left
    expect(unusedDaysRefund(new Decimal('15'), period, new Date('2026-10-20T00:00:00Z'), 'EUR')).toMatchObject({ unusedDays: 30, amount: new Decimal('15') });
  });
});
