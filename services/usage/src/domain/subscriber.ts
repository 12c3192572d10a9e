/** The usage service's view of a line: who pays, its status, and its plan versions over time. */
import type { PaymentMode } from '@ledgerline/contracts';

export interface AddOnTerm {
  code: string;
  startsAt: string;
  endsAt: string | null;
}

export interface SubscriptionVersion {
  subscriptionId: string;
  validFrom: Date;
  billingAccountId: string;
  paymentMode: PaymentMode;
  currency: string;
  planCode: string;
  planVersionId: string;
  status: string;
  endsAt: Date | null;
  addOns: AddOnTerm[];
}

export interface LineInfo {
  lineId: string;
  msisdn: string | null;
  billingAccountId: string;
  /** The line's status now (see statusAt for the status at an event's time). */
  status: string;
  /** Every status the line has had and since when, oldest first (see statusAt). */
  statuses?: { at: Date; status: string }[];
  /** Lines of the billing account now, not TERMINATED (family and business plans read it: see lineCountAt). */
  lineCount: number;
  /** The account's line count over time, oldest first: `count` lines from `at` on (see lineCountAt). */
  lineCounts?: LineCountStep[];
  /** Sorted by validFrom. */
  versions: SubscriptionVersion[];
  /** Per subscription: where wallets restarted its allowance periods (late renewals), sorted. */
  restarts?: Record<string, Date[]>;
}

export interface LineCountStep {
  at: Date;
  count: number;
}

/**
 * The account's line count at `at` (the `lineCount` fact: family and business discounts): the
 * lines that were not TERMINATED then, so a late event or a re-rate is priced with the count of
 * its own time, not with lines that ended or joined since. Never below 1 (the line itself).
 */
export function lineCountAt(line: LineInfo, at: Date): number {
  const steps = line.lineCounts;
  if (!steps || steps.length === 0) return Math.max(1, line.lineCount);
  const t = at.getTime();
  // The last step at or before `at` (binary search: a business account may have many changes).
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (steps[mid]!.at.getTime() <= t) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(1, lo === 0 ? 0 : steps[lo - 1]!.count);
}

/** The plan version in force at `at`: late events are rated with the version of their own time. */
export function versionAt(line: LineInfo, at: Date): SubscriptionVersion | undefined {
  const t = at.getTime();
  let found: SubscriptionVersion | undefined;
  for (const v of line.versions) {
    if (v.validFrom.getTime() > t) continue;
    if (v.endsAt && t >= v.endsAt.getTime()) continue;
    if (!found || v.validFrom.getTime() >= found.validFrom.getTime()) found = v;
  }
  return found;
}

/**
 * The line's status at `at`: a late event is judged by its own time, so usage from before a
 * suspension or a termination is still rated. Before the first change known, the first status
 * known; with no history, the status now.
 */
export function statusAt(line: LineInfo, at: Date): string {
  const history = line.statuses;
  if (!history || history.length === 0) return line.status;
  let status = history[0]!.status;
  for (const h of history) {
    if (h.at > at) break;
    status = h.status;
  }
  return status;
}

export function activeAddOnsAt(version: SubscriptionVersion, at: Date): string[] {
  const t = at.getTime();
  return version.addOns.filter((a) => new Date(a.startsAt).getTime() <= t && (a.endsAt === null || t < new Date(a.endsAt).getTime())).map((a) => a.code);
}
