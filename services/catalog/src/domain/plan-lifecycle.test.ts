import { describe, expect, it } from 'vitest';
import { assertCancellable, assertEditable, contentHash, hasTakenEffect, planNameAt, scheduledAtOrAfter, versionInForce } from './plan-lifecycle';

const at = (s: string) => new Date(s);

describe('plan lifecycle', () => {
  it('lets only drafts change', () => {
    expect(() => assertEditable({ status: 'DRAFT', version: null, effectiveFrom: null }, 'v')).not.toThrow();
    expect(() => assertEditable({ status: 'PUBLISHED', version: 1, effectiveFrom: at('2026-01-01T00:00:00Z') }, 'v')).toThrowError(
      expect.objectContaining({ code: 'PLAN_VERSION_IMMUTABLE', category: 'CONFLICT' }),
    );
  });

  it('finds the version in force at a moment, ignoring drafts and future versions', () => {
    const versions = [
      { id: 'a', status: 'PUBLISHED', version: 1, effectiveFrom: at('2026-01-01T00:00:00Z') },
      { id: 'b', status: 'PUBLISHED', version: 2, effectiveFrom: at('2026-06-01T00:00:00Z') },
      { id: 'c', status: 'DRAFT', version: null, effectiveFrom: null },
    ];
    expect(versionInForce(versions, at('2025-12-31T23:59:59Z'))).toBeNull();
    expect(versionInForce(versions, at('2026-03-01T00:00:00Z'))?.id).toBe('a');
    expect(versionInForce(versions, at('2026-06-01T00:00:00Z'))?.id).toBe('b');
  });

  it("names the plan after its version in force, not after one dated later or withdrawn", () => {
    const named = (id: string, status: string, version: number | null, effectiveFrom: string | null, name: string) => ({ id, status, version, effectiveFrom: effectiveFrom ? at(effectiveFrom) : null, document: JSON.stringify({ name }) });
    const versions = [
      named('a', 'PUBLISHED', 1, '2026-01-01T00:00:00Z', 'Smart'),
      named('b', 'CANCELLED', 2, '2026-04-01T00:00:00Z', 'Smart (withdrawn)'),
      named('c', 'PUBLISHED', 3, '2026-06-01T00:00:00Z', 'Smart (June)'),
      named('d', 'DRAFT', null, null, 'Smart (draft)'),
    ];
    expect(planNameAt(versions, at('2026-05-01T00:00:00Z'), 'stored')).toBe('Smart');
    expect(planNameAt(versions, at('2026-06-01T00:00:00Z'), 'stored')).toBe('Smart (June)');
    // None in force yet: the latest published (staff's view of a SCHEDULED plan); never published: the stored name.
    expect(planNameAt(versions, at('2025-12-01T00:00:00Z'), 'stored')).toBe('Smart (June)');
    expect(planNameAt([versions[3]!], at('2026-05-01T00:00:00Z'), 'stored')).toBe('stored');
  });

  it('tells the versions that have taken effect (public) from those still to come, cancelled ones and drafts (not public)', () => {
    const now = at('2026-03-01T09:00:00Z');
    const taken = (status: string, effectiveFrom: string | null, version: number | null = 1) => hasTakenEffect({ status, version, effectiveFrom: effectiveFrom ? at(effectiveFrom) : null }, now);
    expect(taken('PUBLISHED', '2026-01-01T00:00:00Z')).toBe(true); // in force, or superseded since
    expect(taken('PUBLISHED', '2026-03-01T09:00:00Z')).toBe(true); // its date is now
    expect(taken('PUBLISHED', '2026-03-01T09:00:01Z')).toBe(false); // scheduled
    expect(taken('CANCELLED', '2026-04-01T00:00:00Z')).toBe(false);
    expect(taken('DRAFT', null, null)).toBe(false);
  });

  it('finds a scheduled version a publish at a date would outrank before it takes effect (at or after that date, not yet in force)', () => {
    const now = at('2026-03-01T09:00:00Z');
    const versions = [
      { id: 'a', status: 'PUBLISHED', version: 1, effectiveFrom: at('2026-01-01T00:00:00Z') },
      { id: 'b', status: 'PUBLISHED', version: 2, effectiveFrom: at('2026-04-01T00:00:00Z') },
      { id: 'c', status: 'PUBLISHED', version: 3, effectiveFrom: at('2026-05-01T00:00:00Z') },
      { id: 'd', status: 'DRAFT', version: null, effectiveFrom: null },
    ];
    expect(scheduledAtOrAfter(versions, now, now)?.id).toBe('c');
    expect(scheduledAtOrAfter(versions, at('2026-04-15T00:00:00Z'), now)?.id).toBe('c');
    expect(scheduledAtOrAfter(versions, at('2026-05-01T00:00:00Z'), now)?.id).toBe('c');
    expect(scheduledAtOrAfter(versions, at('2026-05-01T00:00:00.001Z'), now)).toBeNull();
    // Once their dates have come they are history, not a schedule: nothing is in the way.
    expect(scheduledAtOrAfter(versions, at('2026-06-01T00:00:00Z'), at('2026-06-01T00:00:00Z'))).toBeNull();
    expect(scheduledAtOrAfter(versions.slice(0, 1), at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('withdraws only a published version whose date has not come; a cancelled one is never in force', () => {
    const now = at('2026-03-01T09:00:00Z');
    const scheduled = { id: 'b', status: 'PUBLISHED', version: 2, effectiveFrom: at('2026-03-01T09:00:00.001Z') };
    expect(() => assertCancellable(scheduled, now)).not.toThrow();
    expect(() => assertCancellable({ ...scheduled, effectiveFrom: now }, now)).toThrowError(expect.objectContaining({ code: 'PLAN_VERSION_IN_FORCE', category: 'CONFLICT' }));
    expect(() => assertCancellable({ id: 'd', status: 'DRAFT', version: null, effectiveFrom: null }, now)).toThrowError(expect.objectContaining({ code: 'PLAN_VERSION_NOT_SCHEDULED' }));
    const versions = [
      { id: 'a', status: 'PUBLISHED', version: 1, effectiveFrom: at('2026-01-01T00:00:00Z') },
      { id: 'b', status: 'CANCELLED', version: 2, effectiveFrom: at('2026-04-01T00:00:00Z') },
    ];
    expect(versionInForce(versions, at('2026-05-01T00:00:00Z'))?.id).toBe('a');
    expect(scheduledAtOrAfter(versions, now, now)).toBeNull();
  });

  it('hashes documents independently of key order', () => {
    expect(contentHash({ a: 1, b: { c: [1, 2] } })).toBe(contentHash({ b: { c: [1, 2] }, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});
