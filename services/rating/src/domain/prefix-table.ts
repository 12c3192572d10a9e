/**
 * Longest-prefix match of a number against a plan's prefix table (destinations, premium numbers).
 * One Map lookup per distinct prefix length, longest first, instead of a scan of every prefix: an
 * operator's full international price list has thousands of prefixes, and every call and message
 * is looked up. A prefix listed twice keeps its first value (as the first match of a scan would).
 */
export class PrefixTable<V> {
  private readonly byPrefix = new Map<string, V>();
  /** The distinct prefix lengths, longest first. */
  private readonly lengths: number[];

  constructor(entries: Iterable<{ prefix: string; value: V }>) {
    for (const { prefix, value } of entries) if (!this.byPrefix.has(prefix)) this.byPrefix.set(prefix, value);
    this.lengths = [...new Set([...this.byPrefix.keys()].map((p) => p.length))].sort((a, b) => b - a);
  }

  /** The value of the longest prefix `number` starts with, or undefined. */
  match(number: string): V | undefined {
    for (const length of this.lengths) {
      if (length > number.length) continue;
      const value = this.byPrefix.get(number.slice(0, length));
      if (value !== undefined) return value;
    }
    return undefined;
  }
}
