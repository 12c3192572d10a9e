/**
 * A Map-like cache that holds at most about `capacity` entries, for read models keyed by line or
 * number (an operator has millions; a cache without a bound grows until the process dies).
 *
 * Two generations: entries are set in the young one; when it holds half the capacity it becomes the
 * old one and the previous old one is dropped; a hit in the old generation moves the entry back to
 * the young one. So an entry is dropped only after two turns without a hit, never by the turn that
 * set it: a caller that loaded an entry and reads it right after (prefetch, then get) finds it,
 * whatever other loads finished in between (a turn needs capacity / 2 new entries).
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!(capacity >= 2)) throw new RangeError(`a cache needs a capacity of at least 2, not ${capacity}`);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined || this.young.has(key)) return value;
    if (!this.old.has(key)) return undefined;
    const kept = this.old.get(key) as V;
    this.old.delete(key);
    this.setYoung(key, kept);
    return kept;
  }

  set(key: K, value: V): this {
    this.old.delete(key);
    this.setYoung(key, value);
    return this;
  }

  delete(key: K): boolean {
    const inYoung = this.young.delete(key);
    return this.old.delete(key) || inYoung;
  }

  /** Deletes every entry whose value matches (a walk over the whole cache). */
  deleteWhere(matches: (value: V) => boolean): void {
    for (const generation of [this.young, this.old]) {
      for (const [key, value] of generation) if (matches(value)) generation.delete(key);
    }
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  private setYoung(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
