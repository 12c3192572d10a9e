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
export class BoundedCache<K, V, G = never> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  // Per generation, the keys of each group (when the cache groups its entries): a group's entries
  // are found without a walk over the cache, and an old generation's index goes with it.
  private youngGroups = new Map<G, Set<K>>();
  private oldGroups = new Map<G, Set<K>>();

  constructor(
    private readonly capacity: number,
    /** The group an entry belongs to (undefined: none), for deleteGroup; e.g. a line's billing account. */
    private readonly groupOf?: (value: V) => G | undefined,
  ) {
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
    this.deleteFrom(this.old, this.oldGroups, key);
    this.setYoung(key, kept);
    return kept;
  }

  set(key: K, value: V): this {
    this.deleteFrom(this.old, this.oldGroups, key);
    // Replaced in place (an update is no new entry: it turns no generation), out of its former group.
    if (this.young.has(key)) this.ungroup(this.youngGroups, key, this.young.get(key) as V);
    this.setYoung(key, value);
    return this;
  }

  delete(key: K): boolean {
    const inYoung = this.deleteFrom(this.young, this.youngGroups, key);
    return this.deleteFrom(this.old, this.oldGroups, key) || inYoung;
  }

  /** Deletes every entry of `group` (the cache must have been built with groupOf): no walk over the cache. */
  deleteGroup(group: G): void {
    for (const [entries, groups] of [[this.young, this.youngGroups], [this.old, this.oldGroups]] as const) {
      const keys = groups.get(group);
      if (!keys) continue;
      for (const key of keys) entries.delete(key);
      groups.delete(group);
    }
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
    this.youngGroups.clear();
    this.oldGroups.clear();
  }

  private setYoung(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.oldGroups = this.youngGroups;
      this.young = new Map();
      this.youngGroups = new Map();
    }
    this.young.set(key, value);
    const group = this.groupOf?.(value);
    if (group === undefined) return;
    let keys = this.youngGroups.get(group);
    if (!keys) this.youngGroups.set(group, (keys = new Set()));
    keys.add(key);
  }

  /** Deletes `key` from one generation and from its group's index there. */
  private deleteFrom(entries: Map<K, V>, groups: Map<G, Set<K>>, key: K): boolean {
    if (!entries.has(key)) return false;
    this.ungroup(groups, key, entries.get(key) as V);
    entries.delete(key);
    return true;
  }

  private ungroup(groups: Map<G, Set<K>>, key: K, value: V): void {
    const group = this.groupOf?.(value);
    if (group === undefined) return;
    const keys = groups.get(group);
    keys?.delete(key);
    if (keys?.size === 0) groups.delete(group);
  }
}
