import { describe, expect, it } from 'vitest';
import { addOnEndsAt, carryAddOns, inForceAt, offerFitsPlan } from './add-ons';

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
