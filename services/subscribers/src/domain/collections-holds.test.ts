import { describe, expect, it } from 'vitest';
import { isHoldable, liftStep, placeStep, type LiftFacts } from './collections-holds';

const collectionsBar = { kind: 'BAR', collectionsBar: true };
const otherOrder = { kind: 'SUSPEND', collectionsBar: false };

describe('collections holds: placing', () => {
  it('holds live lines only', () => {
    expect(['PENDING', 'ACTIVE', 'SUSPENDED', 'BARRED', 'TERMINATED'].filter((s) => isHoldable(s as never))).toEqual(['ACTIVE', 'SUSPENDED', 'BARRED']);
  });
  it.each([
    ['ACTIVE', null, 'BAR'],
    ['SUSPENDED', null, 'NONE'], // the customer's suspension stays as it is
    ['BARRED', null, 'NONE'], // barred already (another dunning, fraud)
    ['ACTIVE', collectionsBar, 'BARRING'],
    ['ACTIVE', otherOrder, 'WAIT'],
    ['SUSPENDED', { kind: 'RESUME', collectionsBar: false }, 'WAIT'],
  ] as const)('%s line, open order %o: %s', (status, open, step) => {
    expect(placeStep(status, open)).toBe(step);
  });
});

describe('collections holds: lifting', () => {
  const facts = (f: Partial<LiftFacts>): LiftFacts => ({ status: 'BARRED', otherHolds: 0, open: null, latestBarIsCollections: true, ...f });
  it.each([
    [{}, 'RESUME'],
    [{ otherHolds: 1 }, 'STAYS'], // another unpaid invoice still holds it
    [{ latestBarIsCollections: false }, 'NONE'], // barred for another reason since
    [{ status: 'SUSPENDED' as const, latestBarIsCollections: false }, 'NONE'], // the customer's suspension
    [{ status: 'SUSPENDED' as const }, 'NONE'], // collections bar lifted by an agent, then the customer suspended
    [{ status: 'ACTIVE' as const }, 'NONE'], // resumed by an agent already
    [{ status: 'ACTIVE' as const, open: collectionsBar }, 'WAIT'], // its bar is still on its way
    [{ open: otherOrder }, 'WAIT'],
    [{ latestBarIsCollections: false, open: otherOrder }, 'NONE'],
    [{ otherHolds: 2, open: collectionsBar }, 'STAYS'],
  ] as const)('%o: %s', (f, step) => {
    expect(liftStep(facts(f))).toBe(step);
  });
});
