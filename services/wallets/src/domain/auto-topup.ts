import { Decimal } from '@ledgerline/contracts';
import { upToMinorUnit } from './entered-money';
import { startOfLocalDay, startOfLocalMonth } from './local-time';

export interface AutoTopupRule {
  enabled: boolean;
  threshold: Decimal;
  /** Top up by this amount… */
  topupAmount: Decimal | null;
  /** …or up to this balance. */
  targetBalance: Decimal | null;
  paymentMethodToken: string;
  dailyLimit: Decimal | null;
  monthlyLimit: Decimal | null;
  /** The wallet's currency: a request is a card payment, in whole minor units. */
  currency: string;
}

export type TopupDecision = { kind: 'REQUEST'; amount: Decimal } | { kind: 'NONE' } | { kind: 'LIMIT_REACHED'; amount: Decimal; limit: 'DAILY' | 'MONTHLY' };

/**
 * What a low-balance event asks of an auto top-up rule: nothing (disabled, or not below its
 * threshold), a request for an amount, or a refusal because a daily or monthly limit would be
 * passed. `requestedToday` / `requestedThisMonth` are the sums already requested. Nothing while a
 * request is `pending` (its card recharge not settled: it brings the money), as retryDecision and
 * ruleSetDecision judge: another credit lifting the balance over the threshold before that
 * recharge lands, then a charge taking it below again, asked the card a second time for one low
 * balance (an "up to target" rule then topped up to twice its target). If the pending request ends
 * without money, retryDecision asks again.
 */
export function decideTopup(rule: AutoTopupRule, before: Decimal, after: Decimal, requestedToday: Decimal, requestedThisMonth: Decimal, pending = false): TopupDecision {
  if (!rule.enabled || pending || !(before.greaterThanOrEqualTo(rule.threshold) && after.lessThan(rule.threshold))) return { kind: 'NONE' };
  return amountWithinLimits(rule, after, requestedToday, requestedThisMonth);
}

function amountWithinLimits(rule: AutoTopupRule, after: Decimal, requestedToday: Decimal, requestedThisMonth: Decimal): TopupDecision {
  // Rounded up to the minor unit: "up to the target" from a balance rated charges left at 9.876544
  // is a card payment of 40.13, not 40.123456 (and a rule stored with a finer amount is paid as one).
  const amount = upToMinorUnit(rule.topupAmount ?? Decimal.max(rule.targetBalance!.minus(after), 0), rule.currency);
  if (amount.lessThanOrEqualTo(0)) return { kind: 'NONE' };
  if (rule.dailyLimit && requestedToday.plus(amount).greaterThan(rule.dailyLimit)) return { kind: 'LIMIT_REACHED', amount, limit: 'DAILY' };
  if (rule.monthlyLimit && requestedThisMonth.plus(amount).greaterThan(rule.monthlyLimit)) return { kind: 'LIMIT_REACHED', amount, limit: 'MONTHLY' };
  return { kind: 'REQUEST', amount };
}

/**
 * The most requests one fall below the threshold makes: the request of the crossing (or of a retry,
 * or of a rule set below its threshold) and the follow-ups its completions ask (followUpDecision).
 * The daily/monthly limits, when the rule has them, usually stop a chain first; this bound is for a
 * rule without limits whose amount is far below the gap (threshold 1,000, top up by 1) or a balance
 * drained as fast as it is topped up: ten card payments for one fall at most, not one a minute for ever.
 */
export const MAX_REQUESTS_PER_CROSSING = 10;

export type FollowUpDecision = TopupDecision | { kind: 'STOPPED'; requests: number };

/**
 * What a request that has just COMPLETED (its card recharge credited the wallet) asks when the
 * unspent money is still below the threshold: the next request at once, within the limits as any
 * request (LIMIT_REACHED past them). Auto top-up is triggered by a crossing: an "amount" rule whose
 * amount is smaller than the gap (threshold 25, top up by 10, balance 4) left the wallet at 14 after
 * its request completed, and with no crossing to come nothing asked again, ever (so too after a
 * crossing swallowed while the request was pending). `completedFollowUp` is the completed request's
 * place in its chain (0: the crossing's own request); past MAX_REQUESTS_PER_CROSSING requests in a
 * row it is STOPPED (the caller tells the customer). Nothing while another request is pending (it
 * brings money). A request that ended without money is not followed up here: retryDecision judges
 * it, with its backoff (a declined card asked again at once would be hammered).
 */
export function followUpDecision(rule: AutoTopupRule, unspent: Decimal, pending: boolean, completedFollowUp: number, requestedToday: Decimal, requestedThisMonth: Decimal): FollowUpDecision {
  if (!rule.enabled || pending || !unspent.lessThan(rule.threshold)) return { kind: 'NONE' };
  const made = completedFollowUp + 1;
  if (made >= MAX_REQUESTS_PER_CROSSING) return { kind: 'STOPPED', requests: made };
  return amountWithinLimits(rule, unspent, requestedToday, requestedThisMonth);
}

/** A top-up request that counts toward the limits (see COUNTED in balance-events.ts): when, how much. */
export interface CountedRequest {
  at: Date;
  amount: Decimal;
}

/**
 * What was requested in the account's current local day and month (its IANA zone; null, unknown:
 * UTC), the figures decideTopup takes. `requests` must reach back to the start of the local month
 * (earliestLocalMonthStart reads far enough for any zone). A day or month of the customer's: a
 * customer in Tokyo tops up at 01:00 and 10:00 of one day, which are two UTC days.
 */
export function requestedInWindows(requests: readonly CountedRequest[], now: Date, timeZone: string | null): { today: Decimal; month: Decimal } {
  const day = startOfLocalDay(now, timeZone).getTime();
  const month = startOfLocalMonth(now, timeZone).getTime();
  let today = new Decimal(0);
  let thisMonth = new Decimal(0);
  for (const r of requests) {
    const at = r.at.getTime();
    if (at >= month) thisMonth = thisMonth.plus(r.amount);
    if (at >= day) today = today.plus(r.amount);
  }
  return { today, month: thisMonth };
}

/** Statuses of a request that ended without money and is asked again (retryDecision); RECHARGE_REFUSED (bad token, wallet gone) and REFUNDED are not. */
export const RETRIED_STATUSES = ['LIMIT_REACHED', 'RECHARGE_DECLINED', 'RECHARGE_FAILED'] as const;
/**
 * Failure codes of a RECHARGE_FAILED recharge that took no money: the capture failed and the
 * workflow voided the authorization (recharge workflow, PAYMENT_CAPTURE_FAILED). Any other (the
 * workflow terminated, cancelled or timed out, an unexpected error) may have ended after the card
 * was captured: asking the card again could take the money twice, so those are left to an operator.
 */
export const FAILURES_WITHOUT_MONEY = ['PAYMENT_CAPTURE_FAILED'] as const;

/** Statuses of a request still waiting for its money: while one is, nothing asks again. */
export const PENDING_STATUSES = ['REQUESTED', 'RECHARGE_STARTED'] as const;

export interface RetryPolicy {
  /** How long after a declined/failed recharge the card is asked again. */
  backoffMs: number;
  /** Declined/failed requests in the account's local day after which the card is left alone until the next day. */
  maxDeclinedPerDay: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { backoffMs: 3_600_000, maxDeclinedPerDay: 3 };

/** The wallet's latest request, as retryDecision judges it. */
export interface LastRequest {
  id: string;
  status: string;
  /** When it ended: its recharge settled, or (LIMIT_REACHED) when it was made. */
  endedAt: Date;
  /** Its recharge's failure code (RECHARGE_FAILED: whether money may have been taken, see FAILURES_WITHOUT_MONEY). */
  failure?: string | null;
}

/**
 * Whether a wallet still below its threshold asks again (a debit that crossed nothing, or the jobs
 * pass). Only after a request that ended without money (RETRIED_STATUSES) and with none pending:
 * - LIMIT_REACHED: when the limit allows the amount now (the local day or month has turned, or the
 *   limit was raised); a limit still reached writes nothing again (no notice per debit);
 * - RECHARGE_DECLINED, or FAILED with a failure that took no money (FAILURES_WITHOUT_MONEY; any
 *   other FAILED is never asked again here): at least `backoffMs` after it ended and while fewer than
 *   `maxDeclinedPerDay` were declined or failed in the account's local day (`declinedToday`), so a
 *   bad card is not hammered; the limits apply as to any request.
 * `unspent` is the balance + held money now. The caller derives the new request's id from `last.id`:
 * one retry per request retried.
 */
export function retryDecision(
  rule: AutoTopupRule,
  unspent: Decimal,
  last: LastRequest | null,
  pending: boolean,
  declinedToday: number,
  requestedToday: Decimal,
  requestedThisMonth: Decimal,
  now: Date,
  policy: RetryPolicy,
): TopupDecision {
  if (!rule.enabled || pending || !last || !unspent.lessThan(rule.threshold)) return { kind: 'NONE' };
  if (!(RETRIED_STATUSES as readonly string[]).includes(last.status)) return { kind: 'NONE' };
  if (last.status === 'RECHARGE_FAILED' && !(FAILURES_WITHOUT_MONEY as readonly string[]).includes(last.failure ?? '')) return { kind: 'NONE' };
  if (last.status !== 'LIMIT_REACHED') {
    if (now.getTime() - last.endedAt.getTime() < policy.backoffMs || declinedToday >= policy.maxDeclinedPerDay) return { kind: 'NONE' };
  }
  const decision = amountWithinLimits(rule, unspent, requestedToday, requestedThisMonth);
  if (decision.kind === 'LIMIT_REACHED' && last.status === 'LIMIT_REACHED') return { kind: 'NONE' };
  return decision;
}

/**
 * What setting (or changing) a rule asks: a rule set while the unspent money is already below its
 * threshold has no crossing to come (a used-up prepaid balance never rises by itself), so it asks
 * at once, within the limits, as a crossing would. Not while a request is pending (it brings the
 * money; setting the same rule twice asks once), and not after one that ended without money
 * (RETRIED_STATUSES): that is retryDecision's to judge (its backoff, the day's cap, a limit still
 * reached, a failed recharge that may have taken the money), which the caller asks next.
 */
export function ruleSetDecision(rule: AutoTopupRule, unspent: Decimal, last: Pick<LastRequest, 'status'> | null, pending: boolean, requestedToday: Decimal, requestedThisMonth: Decimal): TopupDecision {
  if (!rule.enabled || pending || !unspent.lessThan(rule.threshold)) return { kind: 'NONE' };
  if (last && (RETRIED_STATUSES as readonly string[]).includes(last.status)) return { kind: 'NONE' };
  return amountWithinLimits(rule, unspent, requestedToday, requestedThisMonth);
}

/** How many of these ended-without-money requests (their times) fall in the account's local day of `now`. */
export function countToday(times: readonly Date[], now: Date, timeZone: string | null): number {
  const day = startOfLocalDay(now, timeZone).getTime();
  return times.filter((t) => t.getTime() >= day).length;
}
