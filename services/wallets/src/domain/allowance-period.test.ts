import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { covers, periodEndOf, rolloverOf } from './allowance-period';

describe('allowance periods', () => {
  it('runs 30 days, a week, or to the same day of the next month (its last day when shorter)', () => {
    const start = new Date('2026-01-31T09:30:00Z');
    expect(periodEndOf(start, 'DAYS30').toISOString()).toBe('2026-03-02T09:30:00.000Z');
    expect(periodEndOf(start, 'WEEK').toISOString()).toBe('2026-02-07T09:30:00.000Z');
    expect(periodEndOf(start, 'MONTH').toISOString()).toBe('2026-02-28T09:30:00.000Z');
    expect(periodEndOf(new Date('2026-12-15T00:00:00Z'), 'MONTH').toISOString()).toBe('2027-01-15T00:00:00.000Z');
    expect(periodEndOf(new Date('2026-02-28T09:30:00Z'), 'MONTH', start).toISOString()).toBe('2026-03-31T09:30:00.000Z'); // no drift
    expect(periodEndOf(start).toISOString()).toBe('2026-03-02T09:30:00.000Z'); // no fee: 30 days
  });

  it('rolls over a share of what is left, capped, never rounded up', () => {
    expect(rolloverOf(new Decimal('9240'), { percent: '50', maxQuantity: '5120' }).toFixed()).toBe('4620');
    expect(rolloverOf(new Decimal('10240'), { percent: '100', maxQuantity: '5120' }).toFixed()).toBe('5120');
    expect(rolloverOf(new Decimal('0.0000015'), { percent: '50' }).toFixed()).toBe('0');
    expect(rolloverOf(new Decimal('33.333333'), { percent: '50' }).toFixed()).toBe('16.666666');
    expect(rolloverOf(new Decimal('100'), undefined).toFixed()).toBe('0');
    expect(rolloverOf(new Decimal('-5'), { percent: '50' }).toFixed()).toBe('0');
  });

  it('a fee is covered by the balance plus the overdraft, to the cent', () => {
    expect(covers(new Decimal('15'), new Decimal('0'), new Decimal('15'))).toBe(true);
    expect(covers(new Decimal('14.99'), new Decimal('0'), new Decimal('15'))).toBe(false);
    expect(covers(new Decimal('10'), new Decimal('5'), new Decimal('15'))).toBe(true);
  });
});
