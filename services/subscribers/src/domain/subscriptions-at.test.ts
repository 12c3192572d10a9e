import { describe, expect, it } from 'vitest';
import { statusAt, subscriptionsAt } from './subscriptions-at';

const BOUNDARY = new Date('2026-11-30T23:00:00Z');
const before = new Date('2026-11-30T22:59:59Z');
const gap = new Date('2026-11-30T23:00:30Z');
const PASS = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-27T10:00:00.000Z', endsAt: '2026-12-04T10:00:00.000Z' };
const OLD_PASS = { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-11-20T10:00:00.000Z', endsAt: '2026-11-27T10:00:00.000Z' };

describe('statusAt: what the sweep leaves a subscription as', () => {
  it.each([
    ['SCHEDULED', BOUNDARY, null, before, 'SCHEDULED'],
    ['SCHEDULED', BOUNDARY, null, BOUNDARY, 'ACTIVE'],
    ['SCHEDULED', BOUNDARY, null, gap, 'ACTIVE'],
    ['ACTIVE', new Date('2026-11-16T10:00:00Z'), BOUNDARY, before, 'ACTIVE'],
    ['ACTIVE', new Date('2026-11-16T10:00:00Z'), BOUNDARY, BOUNDARY, 'ENDED'],
    ['ACTIVE', new Date('2026-11-16T10:00:00Z'), null, gap, 'ACTIVE'],
    ['PENDING', new Date('2026-11-16T10:00:00Z'), null, gap, 'PENDING'],
    ['ENDED', new Date('2026-11-16T10:00:00Z'), BOUNDARY, gap, 'ENDED'],
  ] as const)('%s from %s to %s, at %s: %s', (status, startsAt, endsAt, now, expected) => {
    expect(statusAt({ status, startsAt, endsAt }, now)).toBe(expected);
  });
});

describe('subscriptionsAt', () => {
  const old = { id: 'sub_old', status: 'ACTIVE', startsAt: new Date('2026-11-16T10:00:00Z'), endsAt: BOUNDARY, addOns: JSON.stringify([OLD_PASS, PASS]) };
  const next = { id: 'sub_new', status: 'SCHEDULED', startsAt: BOUNDARY, endsAt: null, addOns: '[]' };

  it('before the boundary: the rows as they are (the same objects)', () => {
    const at = subscriptionsAt([next, old], before);
    expect(at[0]).toBe(next);
    expect(at[1]).toBe(old);
  });

  it('after it: the change started, carrying the add-ons still valid as it starts; the rows are not touched', () => {
    const at = subscriptionsAt([next, old], gap);
    expect(at.map((s) => [s.id, s.status])).toEqual([
      ['sub_new', 'ACTIVE'],
      ['sub_old', 'ENDED'],
    ]);
    expect(JSON.parse(at[0]!.addOns)).toEqual([PASS]);
    expect(next.status).toBe('SCHEDULED');
    expect(old.status).toBe('ACTIVE');
  });
});
