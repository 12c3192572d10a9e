import { describe, expect, it } from 'vitest';
import { addOnEndsAt, addOnRefund, carryAddOns, endPurchase, inForceAt, offerFitsPlan, purchaseInForce } from './add-ons';

const start = new Date('2026-11-30T23:00:00Z');
const boost = { code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z' };
const pass = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-27T10:00:00.000Z', endsAt: '2026-12-04T10:00:00.000Z' };
const lapsed = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-20T10:00:00.000Z', endsAt: '2026-11-27T10:00:00.000Z' };
const endingAtStart = { code: 'X', startsAt: '2026-11-01T00:00:00.000Z', endsAt: start.toISOString() };
const forever = { code: 'Y', startsAt: '2026-11-01T00:00:00.000Z', endsAt: null };

describe('carryAddOns', () => {
  it('adds what is still valid at the start and not held yet, with its dates, after what is held', () => {
    expect(carryAddOns([boost], [boost, lapsed, pass, endingAtStart, forever], start)).toEqual([boost, pass, forever]);
  });
  it('is idempotent: carrying again adds nothing', () => {
    const once = carryAddOns([], [boost, pass], start);
    expect(carryAddOns(once, [boost, pass], start)).toEqual(once);
  });
  it('tells two purchases of one add-on apart by their start', () => {
    const again = { ...pass, startsAt: '2026-11-28T10:00:00.000Z', endsAt: '2026-12-05T10:00:00.000Z' };
    expect(carryAddOns([pass], [pass, again], start)).toEqual([pass, again]);
  });
});

describe('add-on terms', () => {
  it('is in force until (not at) its end; one without an end always', () => {
    expect(inForceAt(endingAtStart, start)).toBe(false);
    expect(inForceAt(endingAtStart, new Date(start.getTime() - 1))).toBe(true);
    expect(inForceAt(forever, start)).toBe(true);
  });
  it('fits a plan it names, or any plan when it names none', () => {
    expect(offerFitsPlan([], 'POSTPAID_20GB')).toBe(true);
    expect(offerFitsPlan(['FAMILY_SHARE_50GB'], 'POSTPAID_20GB')).toBe(false);
    expect(offerFitsPlan(['FAMILY_SHARE_50GB', 'POSTPAID_20GB'], 'POSTPAID_20GB')).toBe(true);
  });
  it('ends whole days after its purchase', () => {
    expect(addOnEndsAt(new Date('2026-11-16T10:00:00Z'), 30).toISOString()).toBe('2026-12-16T10:00:00.000Z');
  });
});

describe('ending a purchase (endAddOn)', () => {
  const eur = (amount: string) => ({ amount, currency: 'EUR' });
  it('finds the purchase of a code valid now, not one lapsed or not started', () => {
    const at = new Date('2026-11-28T10:00:00Z');
    expect(purchaseInForce([lapsed, pass, boost], 'ROAM_WORLD_PASS_7D', at)).toEqual(pass);
    expect(purchaseInForce([lapsed], 'ROAM_WORLD_PASS_7D', at)).toBeUndefined();
    expect(purchaseInForce([pass], 'ROAM_WORLD_PASS_7D', new Date('2026-11-27T09:59:59Z'))).toBeUndefined();
    expect(purchaseInForce([pass], 'ROAM_WORLD_PASS_7D', new Date(pass.endsAt))).toBeUndefined();
  });
  it('ends only that purchase, now', () => {
    const at = new Date('2026-11-28T10:00:00Z');
    expect(endPurchase([lapsed, pass, boost], pass, at)).toEqual([lapsed, { ...pass, endsAt: at.toISOString() }, boost]);
  });
  it('refunds the whole days not used over the days sold (the day of the end used), half-even to the cent', () => {
    // Bought 16 Nov 10:00 for 30 days: ended 20 Nov 10:00 leaves 26 whole days, 12:00 leaves 25.
    expect(addOnRefund(eur('5.00'), boost, new Date('2026-11-20T10:00:00Z'))).toMatchObject({ unusedDays: 26, periodDays: 30 });
    expect(addOnRefund(eur('5.00'), boost, new Date('2026-11-20T10:00:00Z')).amount.toFixed()).toBe('4.33');
    expect(addOnRefund(eur('5.00'), boost, new Date('2026-11-20T12:00:00Z')).amount.toFixed()).toBe('4.17');
    expect(addOnRefund(eur('9.99'), pass, new Date('2026-11-27T10:00:00Z')).amount.toFixed()).toBe('9.99'); // ended as it starts: all of it
    expect(addOnRefund(eur('9.99'), pass, new Date('2026-12-03T11:00:00Z')).amount.isZero()).toBe(true); // its last day
    expect(addOnRefund(eur('9.99'), forever, new Date('2026-12-03T11:00:00Z')).amount.isZero()).toBe(true);
  });
});
