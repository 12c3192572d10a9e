import { describe, expect, it } from 'vitest';
import { agingAsOf, agingBuckets, agingCurrency, bucketOf, bucketThresholds, daysPastDue, decodeAgingCursor, encodeAgingCursor } from './aging';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e: any) {
    return { code: e.code, field: e.details?.field, category: e.category };
  }
  throw new Error('expected a refusal');
};

describe('aging buckets', () => {
  it('default: current, 1-30, 31-60, 61-90, 90+', () => {
    expect(agingBuckets(undefined)).toEqual([
      { label: 'current', minDaysPastDue: 0, maxDaysPastDue: 0 },
      { label: '1-30', minDaysPastDue: 1, maxDaysPastDue: 30 },
      { label: '31-60', minDaysPastDue: 31, maxDaysPastDue: 60 },
      { label: '61-90', minDaysPastDue: 61, maxDaysPastDue: 90 },
      { label: '90+', minDaysPastDue: 91, maxDaysPastDue: null },
    ]);
    expect(bucketThresholds(agingBuckets(null))).toEqual([1, 31, 61, 91]);
  });

  it('refuses bounds that are not whole days going up strictly, on `buckets`', () => {
    for (const b of [[], [0], [30, 30], [60, 30], [1.5], [36_501], Array.from({ length: 13 }, (_, i) => i + 1)]) {
      expect(refusal(() => agingBuckets(b)), JSON.stringify(b)).toMatchObject({ code: 'AGING_BUCKETS_INVALID', field: 'buckets', category: 'BAD_USER_INPUT' });
    }
  });

  it('counts started 24-hour days past the due instant; the due instant itself is current', () => {
    const due = new Date('2027-01-03T08:00:00Z');
    const day = 86_400_000;
    const buckets = agingBuckets(undefined);
    const at = (ms: number) => {
      const d = daysPastDue(new Date(due.getTime() + ms), due);
      return [d, buckets[bucketOf(d, buckets)]!.label];
    };
    expect(at(-day)).toEqual([0, 'current']);
    expect(at(0)).toEqual([0, 'current']);
    expect(at(1)).toEqual([1, '1-30']);
    expect(at(day)).toEqual([1, '1-30']);
    expect(at(day + 1)).toEqual([2, '1-30']);
    expect(at(30 * day)).toEqual([30, '1-30']);
    expect(at(30 * day + 1)).toEqual([31, '31-60']);
    expect(at(90 * day)).toEqual([90, '61-90']);
    expect(at(90 * day + 1)).toEqual([91, '90+']);
  });
});

describe('aging currency and asOf', () => {
  it('one ISO currency: a list is refused as a mix, anything else not a code as invalid, on `currency`', () => {
    expect(agingCurrency('EUR')).toBe('EUR');
    expect(refusal(() => agingCurrency('EUR,USD'))).toMatchObject({ code: 'AGING_CURRENCY_MIXED', field: 'currency' });
    expect(refusal(() => agingCurrency('EUR USD'))).toMatchObject({ code: 'AGING_CURRENCY_MIXED', field: 'currency' });
    for (const c of ['', 'eur', 'EURO', 'XXQ', '€']) expect(refusal(() => agingCurrency(c)), c).toMatchObject({ field: 'currency' });
  });

  it('asOf defaults to now; a future one is refused on `asOf`', () => {
    const now = new Date('2027-03-10T12:00:00Z');
    expect(agingAsOf(null, now)).toEqual(now);
    expect(agingAsOf(new Date('2027-02-20T12:00:00Z'), now)).toEqual(new Date('2027-02-20T12:00:00Z'));
    expect(refusal(() => agingAsOf(new Date(now.getTime() + 1), now))).toMatchObject({ code: 'AGING_AS_OF_IN_FUTURE', field: 'asOf' });
  });
});

describe('aging cursor', () => {
  it('round-trips, and refuses another order’s cursor or a made-up one on `after`', () => {
    const c = { order: 'LARGEST_FIRST' as const, oldestDue: '2027-01-03T08:00:00.000000Z', open: '123.4500', billingAccountId: 'acc_1' };
    expect(decodeAgingCursor(encodeAgingCursor(c), 'LARGEST_FIRST')).toEqual(c);
    expect(refusal(() => decodeAgingCursor(encodeAgingCursor(c), 'OLDEST_FIRST'))).toMatchObject({ code: 'CURSOR_INVALID', field: 'after' });
    expect(refusal(() => decodeAgingCursor('bm90LWEtY3Vyc29y', 'LARGEST_FIRST'))).toMatchObject({ code: 'CURSOR_INVALID', field: 'after' });
    expect(refusal(() => decodeAgingCursor(Buffer.from(JSON.stringify(['LARGEST_FIRST', 'x', '1', 'a'])).toString('base64url'), 'LARGEST_FIRST'))).toMatchObject({ field: 'after' });
  });
});
