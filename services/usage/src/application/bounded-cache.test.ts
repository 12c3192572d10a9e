import { describe, expect, it } from 'vitest';
import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  it('never holds more than its capacity, however many entries are set', () => {
    const cache = new BoundedCache<number, string>(100);
    for (let i = 0; i < 10_000; i++) {
      cache.set(i, `v${i}`);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    // The newest entries are still there; the oldest are gone.
    expect(cache.get(9_999)).toBe('v9999');
    expect(cache.has(0)).toBe(false);
  });

  it('keeps an entry just set through the next turn of generations (a load, then a read of what it loaded)', () => {
    const cache = new BoundedCache<string, number>(4);
    cache.set('mine', 1);
    // Other loads finish in between and turn the generations once.
    cache.set('a', 2);
    cache.set('b', 3);
    expect(cache.get('mine')).toBe(1);
  });

  it('keeps an entry that is read, and drops one that is not read for two turns', () => {
    const cache = new BoundedCache<string, number>(4);
    cache.set('hot', 1);
    cache.set('cold', 2);
    for (let i = 0; i < 6; i++) {
      cache.set(`x${i}`, i);
      expect(cache.get('hot')).toBe(1);
    }
    expect(cache.get('cold')).toBeUndefined();
  });

  it('answers a stored undefined or null as stored, deletes from both generations, and clears', () => {
    const cache = new BoundedCache<string, number | null>(4);
    cache.set('none', null);
    cache.set('a', 1);
    cache.set('b', 2); // 'none' and 'a' are in the old generation now
    expect(cache.has('none')).toBe(true);
    expect(cache.get('none')).toBeNull();
    expect(cache.delete('a')).toBe(true);
    expect(cache.has('a')).toBe(false);
    expect(cache.delete('a')).toBe(false);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('deletes the entries whose value matches, in both generations', () => {
    const cache = new BoundedCache<string, { account: string }>(4);
    cache.set('l1', { account: 'a' });
    cache.set('l2', { account: 'b' });
    cache.set('l3', { account: 'a' }); // l1 and l2 are in the old generation now
    cache.deleteWhere((v) => v.account === 'a');
    expect([cache.has('l1'), cache.has('l2'), cache.has('l3')]).toEqual([false, true, false]);
  });

  it('refuses a capacity that cannot hold two generations', () => {
    expect(() => new BoundedCache(1)).toThrow(RangeError);
  });
});
