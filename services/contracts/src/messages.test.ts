import { describe, expect, it } from 'vitest';
import { parseBucketRolledOver, type BucketRolledOverData } from './messages';

const POOL: BucketRolledOverData = {
  bucketId: 'bkt_1', billingAccountId: 'acc_1', lineId: null, subscriptionId: 'sub_1', planVersionId: 'plv_family', allowanceId: 'family-data', shared: true,
  periodStart: '2026-05-01T00:00:00.000Z', periodEnd: '2026-06-01T00:00:00.000Z', quantity: '12800.000000', unit: 'MB',
};

describe('parseBucketRolledOver', () => {
  it("takes a pool's and a line's rollover", () => {
    expect(parseBucketRolledOver(POOL)).toEqual(POOL);
    const line = { ...POOL, lineId: 'lin_1', shared: false, planVersionId: null, subscriptionId: undefined };
    expect(parseBucketRolledOver(line)).toEqual({ ...line, subscriptionId: null });
  });

  it('refuses what names no owner, no period or no positive exact quantity', () => {
    for (const bad of [
      null, {}, { ...POOL, planVersionId: null }, { ...POOL, lineId: 'lin_1' }, { ...POOL, shared: false }, { ...POOL, periodStart: 'soon' },
      { ...POOL, quantity: '0.000000' }, { ...POOL, quantity: '-5' }, { ...POOL, quantity: '1e3' }, { ...POOL, quantity: '1.1234567' }, { ...POOL, quantity: 12800 }, { ...POOL, allowanceId: 'x'.repeat(65) },
    ]) expect(parseBucketRolledOver(bad), JSON.stringify(bad)).toBeUndefined();
  });
});
