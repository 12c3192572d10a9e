/**
 * Which records a month's re-rate adjusts (rerate-period.ts). A record counts in several allowance
 * periods at once - its line's, its plan's shared pool's, the add-on purchases in force at its time -
 * and what a correction makes of it depends on every earlier record of each of them (what they drew
 * of the bucket), and changes every later one. So the records a correction touches are chained
 * through those periods, across month boundaries where a pool's or a pass's period and a line's do
 * not line up.
 *
 * The rule: a month's re-rate adjusts every record connected to the month through allowance
 * periods - the allowance periods the records count in that overlap the month are in scope, every
 * record counting in a period in scope is in scope, and so is every other period it counts in,
 * until nothing is added. The replay must hold every record of every period in scope (the caller
 * widens its range to `start`/`end` and asks again until they are within it).
 *
 * Why re-rating every month once applies a correction exactly once: the records in scope share no
 * allowance period with any record outside it, so nothing outside changes what the corrected
 * catalog makes of them, and re-rating them from the start of their periods gives exactly the
 * corrected catalog's figures. Such a set is a union of whole connected groups: a later re-rate of
 * any month that reaches a group re-rates the whole group, finds the ledger holding the corrected
 * figures, and adjusts nothing. Before, a record was adjusted only when all its periods overlapped
 * the month: a pool's or pass's period straddling the month's start was re-rated half by one month
 * and half by the other, each half against the other as the ledger held it.
 */

/** One allowance period a record counts in: `key` names it (the replay's counters key), [start, end). */
export interface ScopePeriod {
  key: string;
  start: Date;
  end: Date;
}

export interface RerateScope {
  /** The ids of the records in scope. */
  ids: Set<string>;
  /** The earliest start and latest end of the periods in scope (undefined when none is). */
  start?: Date;
  end?: Date;
}

/** The records (each with the allowance periods it counts in) connected to `month` through those periods. */
export function rerateScope(records: readonly { id: string; periods: readonly ScopePeriod[] }[], month: { start: Date; end: Date }): RerateScope {
  // Union-find over period keys: a record joins all the periods it counts in.
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let root = k;
    while (parent.get(root) !== root) root = parent.get(root)!;
    for (let x = k; x !== root; ) {
      const next = parent.get(x)!;
      parent.set(x, root);
      x = next;
    }
    return root;
  };
  const spans = new Map<string, ScopePeriod>();
  for (const r of records) {
    for (const p of r.periods) {
      if (!parent.has(p.key)) parent.set(p.key, p.key);
      const known = spans.get(p.key);
      // One key is one period; should two records see it with other bounds, the wider holds both.
      spans.set(p.key, known ? { key: p.key, start: p.start < known.start ? p.start : known.start, end: p.end > known.end ? p.end : known.end } : p);
    }
    for (let i = 1; i < r.periods.length; i++) {
      const a = find(r.periods[0]!.key);
      const b = find(r.periods[i]!.key);
      if (a !== b) parent.set(a, b);
    }
  }
  const reached = new Set<string>();
  for (const p of spans.values()) if (p.start < month.end && p.end > month.start) reached.add(find(p.key));
  const scope: RerateScope = { ids: new Set() };
  for (const p of spans.values()) {
    if (!reached.has(find(p.key))) continue;
    if (!scope.start || p.start < scope.start) scope.start = p.start;
    if (!scope.end || p.end > scope.end) scope.end = p.end;
  }
  for (const r of records) if (r.periods.length > 0 && reached.has(find(r.periods[0]!.key))) scope.ids.add(r.id);
  return scope;
}
