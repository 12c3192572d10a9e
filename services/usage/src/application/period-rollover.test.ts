import { describe, expect, it } from 'vitest';
import { rolloverEntriesOf } from './period-rollover';

describe("bundle.renewed's rollover entries", () => {
  it('an event from before the field has none; entries without `shared` are the line\'s', () => {
    expect(rolloverEntriesOf({ subscriptionId: 's', lineId: 'l' })).toEqual([]);
    expect(rolloverEntriesOf({ rollover: [{ allowanceId: 'data', quantity: '4620.000000' }] })).toEqual([{ allowanceId: 'data', quantity: '4620', shared: false }]);
    expect(rolloverEntriesOf({ rollover: [{ allowanceId: 'family-data', quantity: '12800', shared: true }] })).toEqual([{ allowanceId: 'family-data', quantity: '12800', shared: true }]);
  });

  it('leaves out what it cannot count: no id, not a positive decimal of at most 6 places', () => {
    const bad = [null, { quantity: '1' }, { allowanceId: '', quantity: '1' }, { allowanceId: 'a', quantity: 1 }, { allowanceId: 'a', quantity: 'x' }, { allowanceId: 'a', quantity: '0' }, { allowanceId: 'a', quantity: '-5' }, { allowanceId: 'a', quantity: '0.0000001' }];
    expect(rolloverEntriesOf({ rollover: bad as never })).toEqual([]);
  });
});
