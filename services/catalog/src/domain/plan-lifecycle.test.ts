import { describe, expect, it } from 'vitest';
import { assertEditable, contentHash, versionInForce } from './plan-lifecycle';

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

  it('hashes documents independently of key order', () => {
    expect(contentHash({ a: 1, b: { c: [1, 2] } })).toBe(contentHash({ b: { c: [1, 2] }, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});
