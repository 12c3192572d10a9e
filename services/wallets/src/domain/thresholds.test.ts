import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { allowanceCrossings, depleted, fellBelow, unspentMove, type AllowanceBucket } from './thresholds';

const d = (v: string) => new Decimal(v);
const P1 = [new Date('2026-11-01'), new Date('2026-12-01')] as const;
const P2 = [new Date('2026-12-01'), new Date('2027-01-01')] as const;
const bucket = (id: string, initial: string, used: string, usedNow: string, over: Partial<AllowanceBucket> = {}): AllowanceBucket => ({
  id, billingAccountId: 'acc', lineId: null, allowanceId: 'data', unit: 'MB', priority: 100, validFrom: P1[0], validTo: P1[1],
  initial: d(initial), used: d(used), notifiedPercent: 0, usedNow: d(usedNow), ...over,
});
const summary = (bs: AllowanceBucket[]) => allowanceCrossings(bs).map((c) => ({ bucket: c.bucket.id, percents: c.percents, left: c.left.toFixed(), ids: [...c.bucketIds].sort() }));

describe('allowanceCrossings: an allowance is judged on all its buckets, on what was used', () => {
  it('an emptied rollover bucket is not the allowance used up while the period\'s own bucket is untouched', () => {
    expect(summary([bucket('main', '1000', '0', '0'), bucket('roll', '100', '0', '100', { priority: 50 })])).toEqual([]);
  });

  it('crossings of the allowance as a whole, filed under the bucket drawn last, said once each', () => {
    const bs = [bucket('main', '1000', '0', '450'), bucket('roll', '100', '100', '0', { priority: 50 })];
    expect(summary(bs)).toEqual([{ bucket: 'main', percents: [50], left: '550', ids: ['main', 'roll'] }]);
    // 50 % was said (notified on any of its buckets): 80 and 100 when the rest is used.
    expect(summary([bucket('main', '1000', '450', '550', { notifiedPercent: 50 }), bucket('roll', '100', '100', '0', { priority: 50 })])).toEqual([{ bucket: 'main', percents: [80, 100], left: '0', ids: ['main', 'roll'] }]);
    expect(summary([bucket('main', '1000', '450', '550'), bucket('roll', '100', '100', '0', { priority: 50, notifiedPercent: 100 })])).toEqual([]);
  });

  it('only allowances something was used of; other lines, allowances and periods are apart', () => {
    const bs = [
      bucket('p1', '100', '0', '60'),
      bucket('p2', '100', '0', '0', { validFrom: P2[0], validTo: P2[1] }), // the next period (back to back): apart
      bucket('line', '100', '0', '90', { lineId: 'lin_2' }),
      bucket('voice', '100', '99', '0', { allowanceId: 'voice' }),
    ];
    expect(summary(bs)).toEqual([
      { bucket: 'p1', percents: [50], left: '40', ids: ['p1'] },
      { bucket: 'line', percents: [50, 80], left: '10', ids: ['line'] },
    ]);
  });

  it('an add-on valid across both periods joins them into one allowance', () => {
    const bs = [bucket('p1', '100', '0', '60'), bucket('p2', '100', '0', '0', { validFrom: P2[0], validTo: P2[1] }), bucket('addon', '100', '0', '0', { validFrom: new Date('2026-11-15'), validTo: new Date('2026-12-15') })];
    expect(summary(bs)).toEqual([]); // 60 of 300
  });
});

describe('balance notices judge the unspent money (balance + held)', () => {
  const crossings = (balance: [string, string], held: [string, string]) => {
    const u = unspentMove({ before: d(balance[0]), after: d(balance[1]) }, { before: d(held[0]), after: d(held[1]) });
    return { low: fellBelow(u.before, u.after, d('5')), depleted: depleted(u.before, u.after) };
  };
  it('a hold of the whole balance crosses nothing; a release neither', () => {
    expect(crossings(['10', '0'], ['0', '10'])).toEqual({ low: false, depleted: false });
    expect(crossings(['0', '10'], ['10', '0'])).toEqual({ low: false, depleted: false });
  });
  it('a commit crosses what it spent: all of it (low and depleted), or part of it', () => {
    // 10 held, 10 spent: nothing returned to the balance.
    expect(crossings(['0', '0'], ['10', '0'])).toEqual({ low: true, depleted: true });
    // 10 held, 6 spent, 4 returned: 4 unspent.
    expect(crossings(['0', '4'], ['10', '0'])).toEqual({ low: true, depleted: false });
  });
  it('a charge while money is held: judged with the held money counted', () => {
    expect(crossings(['6', '3'], ['4', '4'])).toEqual({ low: false, depleted: false });
    expect(crossings(['3', '0'], ['4', '4'])).toEqual({ low: true, depleted: false });
  });
});
