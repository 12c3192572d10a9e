import { Decimal } from '@ledgerline/contracts';
import type { BucketState } from './charging';

export const BUCKET_THRESHOLDS = [50, 80, 100] as const;

/** The used-percent thresholds a bucket crossed going from `before` to `after` remaining units. */
export function crossedBucketThresholds(initial: Decimal, before: Decimal, after: Decimal, alreadyNotified: number): number[] {
  if (initial.lessThanOrEqualTo(0) || alreadyNotified >= BUCKET_THRESHOLDS[BUCKET_THRESHOLDS.length - 1]) return [];
  // used % ≥ t  ⇔  (initial − remaining) × 100 ≥ t × initial: exact, and no division per charge.
  const usedBefore = initial.minus(before).times(100);
  const usedAfter = initial.minus(after).times(100);
  return BUCKET_THRESHOLDS.filter((t) => {
    if (t <= alreadyNotified) return false;
    const bar = initial.times(t);
    return usedAfter.greaterThanOrEqualTo(bar) && usedBefore.lessThan(bar);
  });
}

/**
 * A bucket as the allowance notifications see it: what it granted (`initial`), what was used of it
 * before the change being judged (`used`: charged or committed units; units a session only holds
 * are not used, nor units a renewal carried over into the next period), and what the change used
 * of it (`usedNow`, 0 for a bucket of the allowance the change did not draw on).
 */
export interface AllowanceBucket extends Pick<BucketState, 'id' | 'billingAccountId' | 'lineId' | 'allowanceId' | 'unit' | 'priority' | 'validFrom' | 'validTo' | 'initial'> {
  used: Decimal;
  notifiedPercent: number;
  usedNow: Decimal;
}

export interface AllowanceCrossing {
  /** The buckets judged together: every one of them is marked notified up to the highest percent. */
  bucketIds: string[];
  /** Where the notice is filed (its id, the event's bucketId): the bucket drawn last, the period's own rather than its rollover. */
  bucket: AllowanceBucket;
  percents: number[];
  /** Granted in all and left unused (held units count as left) after the change. */
  granted: Decimal;
  left: Decimal;
}

/**
 * The used-percent thresholds an allowance crossed. An allowance is judged as a whole: the active
 * buckets of one account, line, allowance and unit whose validity overlaps (the period's own, its
 * rollover, an add-on) are one allowance, used vs granted in total, so an emptied rollover bucket
 * does not say "used up" while the period's own units are untouched. Only allowances the change
 * used units of are judged; each is said once per threshold (the highest `notifiedPercent` of its
 * buckets). Pure and linear in the number of buckets (plus a sort per allowance).
 */
export function allowanceCrossings(buckets: readonly AllowanceBucket[]): AllowanceCrossing[] {
  const byKey = new Map<string, AllowanceBucket[]>();
  for (const b of buckets) {
    const key = `${b.billingAccountId}\u0000${b.lineId ?? ''}\u0000${b.allowanceId}\u0000${b.unit}`;
    const list = byKey.get(key);
    if (list) list.push(b);
    else byKey.set(key, [b]);
  }
  const crossings: AllowanceCrossing[] = [];
  for (const list of byKey.values()) {
    if (!list.some((b) => b.usedNow.greaterThan(0))) continue;
    list.sort((a, b) => a.validFrom.getTime() - b.validFrom.getTime() || a.validTo.getTime() - b.validTo.getTime());
    // Buckets whose validities overlap (one after the other, as periods follow each other, do not).
    let group: AllowanceBucket[] = [];
    let groupEnd = -Infinity;
    const judge = () => {
      if (group.length > 0) {
        const c = judgeAllowance(group);
        if (c) crossings.push(c);
      }
    };
    for (const b of list) {
      if (b.validFrom.getTime() >= groupEnd) {
        judge();
        group = [];
      }
      group.push(b);
      groupEnd = Math.max(groupEnd, b.validTo.getTime());
    }
    judge();
  }
  return crossings;
}

function judgeAllowance(group: AllowanceBucket[]): AllowanceCrossing | null {
  let granted = new Decimal(0);
  let usedBefore = new Decimal(0);
  let usedNow = new Decimal(0);
  let notified = 0;
  for (const b of group) {
    granted = granted.plus(b.initial);
    usedBefore = usedBefore.plus(b.used);
    usedNow = usedNow.plus(b.usedNow);
    notified = Math.max(notified, b.notifiedPercent);
  }
  if (usedNow.lessThanOrEqualTo(0)) return null;
  const usedAfter = usedBefore.plus(usedNow);
  const percents = crossedBucketThresholds(granted, granted.minus(usedBefore), granted.minus(usedAfter), notified);
  if (percents.length === 0) return null;
  // Drawn last: the highest priority number, then the latest end; the id keeps it stable.
  const bucket = group.reduce((a, b) => (b.priority > a.priority || (b.priority === a.priority && (b.validTo > a.validTo || (b.validTo.getTime() === a.validTo.getTime() && b.id > a.id))) ? b : a));
  return { bucketIds: group.map((b) => b.id), bucket, percents, granted, left: Decimal.max(0, granted.minus(usedAfter)) };
}

/**
 * The money a balance notice (LOW_BALANCE, DEPLETED) and an auto top-up judge: the wallet's unspent
 * money, its balance plus what open reservations hold of it. A hold moves money from the balance
 * to the reservation and spends none of it (it may be released unused a minute later), a release
 * moves it back; a commit or a charge spends. So a hold or a release crosses no threshold, a
 * commit crosses one when what it spent does, and one movement (a charge batch, a batch of closes)
 * crosses it at most once. A final-unit grant says nothing either: the commit of those units does.
 * The same rule as a committed-spend budget's replenishment (budget.ts).
 */
export function unspentMove(balance: { before: Decimal; after: Decimal }, held: { before: Decimal; after: Decimal }): { before: Decimal; after: Decimal } {
  return { before: balance.before.plus(held.before), after: balance.after.plus(held.after) };
}

/** True when a balance went from at/above `threshold` to below it. */
export function fellBelow(before: Decimal, after: Decimal, threshold: Decimal | null): boolean {
  return threshold !== null && before.greaterThanOrEqualTo(threshold) && after.lessThan(threshold);
}

/** True when a prepaid balance reached zero (or less) from above. */
export function depleted(before: Decimal, after: Decimal): boolean {
  return before.greaterThan(0) && after.lessThanOrEqualTo(0);
}

/** Buckets with units left that expire within `warnBefore` ms get one warning. */
export function expiresSoon(validTo: Date, now: Date, warnBeforeMs: number): boolean {
  return validTo.getTime() > now.getTime() && validTo.getTime() - now.getTime() <= warnBeforeMs;
}
