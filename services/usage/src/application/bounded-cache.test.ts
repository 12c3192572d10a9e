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

  it('deletes a group\'s entries in both generations, and only while they are in that group', () => {
    const cache = new BoundedCache<string, { account: string } | null, string>(4, (v) => v?.account);
    cache.set('l1', { account: 'a' });
    cache.set('l2', { account: 'b' });
    cache.set('l3', { account: 'a' }); // l1 and l2 are in the old generation now
    cache.set('l4', null); // in no group
    cache.deleteGroup('a');
    expect([cache.has('l1'), cache.has('l2'), cache.has('l3'), cache.has('l4')]).toEqual([false, true, false, true]);
    // A line moved to another account leaves its old group; one read back from the old generation keeps its group.
    cache.set('l2', { account: 'c' });
    cache.set('l5', { account: 'a' });
    cache.deleteGroup('b');
    expect(cache.get('l2')).toEqual({ account: 'c' });
    cache.deleteGroup('c');
    expect([cache.has('l2'), cache.has('l5')]).toEqual([false, true]);
  });

  it('keeps its group index no larger than its entries (a dropped generation takes its index along)', () => {
    const cache = new BoundedCache<number, { account: string }, string>(100, (v) => v.account);
    for (let i = 0; i < 10_000; i++) cache.set(i, { account: `acc${i % 7}` });
    const index = cache as unknown as { youngGroups: Map<string, Set<number>>; oldGroups: Map<string, Set<number>> };
    const indexed = [...index.youngGroups.values(), ...index.oldGroups.values()].reduce((n, keys) => n + keys.size, 0);
    expect(indexed).toBe(cache.size);
    // A group deleted after turns of generations: every entry of it gone, the others kept.
    cache.deleteGroup('acc3');
    for (let i = 9_900; i < 10_000; i++) expect(cache.has(i)).toBe(i % 7 !== 3);
  });

  it('turns no generation when an entry is replaced (only new entries fill the young one)', () => {
    const cache = new BoundedCache<string, { account: string }, string>(4, (v) => v.account);
    cache.set('old', { account: 'x' });
    cache.set('a', { account: 'x' });
    cache.set('b', { account: 'x' }); // 'old' and 'a' went to the old generation
    for (let i = 0; i < 5; i++) cache.set('b', { account: `y${i}` });
    cache.set('c', { account: 'x' });
    expect(cache.has('old')).toBe(true); // a turn would have dropped it
    cache.deleteGroup('y4');
    expect(cache.has('b')).toBe(false);
  });

  it('refuses a capacity that cannot hold two generations', () => {
    expect(() => new BoundedCache(1)).toThrow(RangeError);
  });
});
