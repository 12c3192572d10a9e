import type { LineCounters } from '../domain/live-usage';

/**
 * The rating path's live counters by key: `line|period` for a line, `pool:account|planVersion@period`
 * for an account's shared pools of a plan version. A line's (or an account's pools') counters of every
 * period (and plan version) can be
 * dropped at once, without knowing which periods are loaded: a ChargeResult names the line, and
 * the period is the subscription's, not something the result carries.
 */
export class CounterStore {
  private readonly byKey = new Map<string, LineCounters>();
  private readonly byOwner = new Map<string, Set<string>>();

  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): LineCounters | undefined {
    return this.byKey.get(key);
  }

  set(key: string, counters: LineCounters): void {
    this.byKey.set(key, counters);
    const owner = ownerOf(key);
    let keys = this.byOwner.get(owner);
    if (!keys) this.byOwner.set(owner, (keys = new Set()));
    keys.add(key);
  }

  delete(key: string): void {
    this.byKey.delete(key);
    this.byOwner.get(ownerOf(key))?.delete(key);
  }

  /** Every period of a line (`lineId`) or of an account's pools (`pool:<account>`). */
  dropOwner(owner: string): void {
    for (const key of this.byOwner.get(owner) ?? []) this.byKey.delete(key);
    this.byOwner.delete(owner);
  }

  clear(): void {
    this.byKey.clear();
    this.byOwner.clear();
  }
}

function ownerOf(key: string): string {
  return key.slice(0, key.lastIndexOf('|'));
}
