import { describe, expect, it } from 'vitest';
import { deterministicId } from './ids';

describe('deterministicId', () => {
  // These ids are stored (usage records, message ids): the same parts must give the same id in
  // every release, or a redelivered event after an upgrade would be taken for a new one.
  it('is the first 32 hex digits of SHA-256 over the parts joined by U+001F, after the kind prefix', () => {
    expect(deterministicId('usageRecord', 'cdr-feed', 'ev-1')).toBe('usg_aacd5084e4cb53f7206f7c323764063b');
    expect(deterministicId('usageRecord', 'cdr-feed', 'ev-2')).not.toBe(deterministicId('usageRecord', 'cdr-feed', 'ev-1'));
  });
});
