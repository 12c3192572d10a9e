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
 * passed. `requestedToday` / `requestedThisMonth` are the sums already requested.
 */
export function decideTopup(rule: AutoTopupRule, before: Decimal, after: Decimal, requestedToday: Decimal, requestedThisMonth: Decimal): TopupDecision {
  if (!rule.enabled || !(before.greaterThanOrEqualTo(rule.threshold) && after.lessThan(rule.threshold))) return { kind: 'NONE' };
  // Rounded up to the minor unit: "up to the target" from a balance rated charges left at 9.876544
  // is a card payment of 40.13, not 40.123456 (and a rule stored with a finer amount is paid as one).
  const amount = upToMinorUnit(rule.topupAmount ?? Decimal.max(rule.targetBalance!.minus(after), 0), rule.currency);
  if (amount.lessThanOrEqualTo(0)) return { kind: 'NONE' };
  if (rule.dailyLimit && requestedToday.plus(amount).greaterThan(rule.dailyLimit)) return { kind: 'LIMIT_REACHED', amount, limit: 'DAILY' };
  if (rule.monthlyLimit && requestedThisMonth.plus(amount).greaterThan(rule.monthlyLimit)) return { kind: 'LIMIT_REACHED', amount, limit: 'MONTHLY' };
  return { kind: 'REQUEST', amount };
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
