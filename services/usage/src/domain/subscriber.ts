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
  /** Lines of the billing account (family and business plans read it). */
  lineCount: number;
  /** Sorted by validFrom. */
  versions: SubscriptionVersion[];
  /** Per subscription: where wallets restarted its allowance periods (late renewals), sorted. */
  restarts?: Record<string, Date[]>;
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
