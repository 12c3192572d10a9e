// Bill-cycle calendar: where a billing period ends, in the account's time zone.
//
// A bill-cycle day D (1–31) means a new period starts at 00:00 local time on day D of every
// month; in months shorter than D it starts on the month's last day (D = 31 → 29 Feb in a leap
// year, 30 Apr). Each boundary is computed from its own month, never from the previous boundary,
// so a D = 31 account is back on the 31st in March after February's 29th.
//
// Pure and free of Node built-ins: the bill-cycle workflow calls it. It uses the IANA time-zone
// data of the JavaScript engine (Intl); a change in that data between worker versions could in
// principle move a boundary during replay, which is why the workflow computes each boundary once
// per run and carries it into the next run as input. The local-midnight rule is contracts' (its
// local-time module alone: contracts' entry point brings node:crypto, which the bundle refuses).
import { daysInMonth, isTimeZone, localMidnight, localParts } from '@ledgerline/contracts/local-time';

export interface BillingPeriod {
  /** ISO-8601 UTC instant, inclusive. */
  periodStart: string;
  /** ISO-8601 UTC instant, exclusive: 00:00 local on the bill-cycle day. */
  periodEnd: string;
}

/** Workflow id of an account's bill cycle: one running cycle per account. */
export const billCycleWorkflowId = (billingAccountId: string): string => `bill-cycle-${billingAccountId}`;

/** The bill-cycle workflow's signal that the account closed (its definitions in workflows/bill-cycle.ts; the event bridge sends it by name). */
export const ACCOUNT_CLOSED_SIGNAL = 'accountClosed';

export function isValidBillCycleDay(day: unknown): day is number {
  return typeof day === 'number' && Number.isInteger(day) && day >= 1 && day <= 31;
}

export const isValidTimeZone = (timeZone: unknown): timeZone is string => isTimeZone(timeZone);

export { daysInMonth };

/**
 * The first period boundary strictly after `from`.
 * @param from ISO-8601 instant (any offset) or Date
 * @returns ISO-8601 UTC instant of 00:00 local time on the (clamped) bill-cycle day
 */
export function nextPeriodEnd(from: string | Date, billCycleDay: number, timeZone: string): string {
  if (!isValidBillCycleDay(billCycleDay)) throw new RangeError(`billCycleDay must be an integer 1–31 (got ${billCycleDay})`);
  const fromMs = typeof from === 'string' ? Date.parse(from) : from.getTime();
  if (Number.isNaN(fromMs)) throw new RangeError(`not an ISO-8601 instant: ${String(from)}`);

  const local = localParts(fromMs, timeZone);
  // The boundary in the month of `from`, else the next month's: one of the two is after `from`.
  for (let i = 0; i < 2; i++) {
    const y = local.year + Math.floor((local.month - 1 + i) / 12);
    const m = ((local.month - 1 + i) % 12) + 1;
    const d = Math.min(billCycleDay, daysInMonth(y, m));
    const boundary = localMidnight(y, m, d, timeZone).getTime();
    if (boundary > fromMs) return new Date(boundary).toISOString();
  }
  /* c8 ignore next */
  throw new Error('unreachable: next month always has a boundary after from');
}

/** The period that starts at `periodStart` (a boundary, or the account's start date). */
export function billingPeriodFrom(periodStart: string, billCycleDay: number, timeZone: string): BillingPeriod {
  return { periodStart: new Date(Date.parse(periodStart)).toISOString(), periodEnd: nextPeriodEnd(periodStart, billCycleDay, timeZone) };
}

/**
 * The period `at` lies in: from the last boundary at or before it to the next one. An account
 * opened mid-cycle starts its bill cycle here, as a bill run bills it (the cycle's period, fees
 * prorated over the days it had them), so both close the same period (one invoice per period).
 */
export function periodContaining(at: string | Date, billCycleDay: number, timeZone: string): BillingPeriod {
  const atMs = typeof at === 'string' ? Date.parse(at) : at.getTime();
  if (Number.isNaN(atMs)) throw new RangeError(`not an ISO-8601 instant: ${String(at)}`);
  // Boundaries are at most 31 days (and a daylight-saving hour) apart: one lies in the 40 days before.
  let start = nextPeriodEnd(new Date(atMs - 40 * 86_400_000), billCycleDay, timeZone);
  for (let end = nextPeriodEnd(start, billCycleDay, timeZone); Date.parse(end) <= atMs; end = nextPeriodEnd(end, billCycleDay, timeZone)) start = end;
  return billingPeriodFrom(start, billCycleDay, timeZone);
}

/**
 * invoicing's `closeBillingPeriod` refusals (the reason, `extensions.reason`, else `extensions.code`)
 * and how the bill cycle takes them. None of them is a decision that the account's cycle is over
 * (that answer is `nextPeriodEnd: null`, the account closed in invoicing), so none fails the cycle:
 * - WAIT: true now, settled by time or by an event on its way. BILLING_PERIOD_NOT_ENDED (invoicing's
 *   clock a little behind Temporal's); BILLINGACCOUNT_NOT_FOUND (its `billingaccount.created` has not
 *   reached invoicing's consumer yet; an account closed while still unknown ends the cycle, below);
 *   PLAN_VERSION_UNKNOWN (a plan version neither in invoicing's read model nor in the catalog yet).
 * - BUG: the same request keeps getting the same answer until someone changes something: FORBIDDEN (the
 *   worker's token is not ADMIN/SYSTEM), BILLING_PERIOD_INVALID (the workflow asked for an inverted
 *   period, or an empty one not final: an empty final period is accepted), a request invoicing cannot read (GRAPHQL_VALIDATION_FAILED, GRAPHQL_PARSE_FAILED,
 *   BAD_REQUEST: a worker and an invoicing of different versions; BAD_USER_INPUT without a reason: a
 *   variable it refused), and any code not known here. Retried too, and logged as an error at every round.
 * Outages (INTERNAL_SERVER_ERROR, …_UNAVAILABLE, …_TIMEOUT, UNAUTHENTICATED, HTTP errors, no answer in
 * time) are not refusals: retried as any activity (OUTAGE).
 */
export type CloseRefusalKind = 'WAIT' | 'BUG';

/** invoicing's reason for an account it does not know (yet). */
export const ACCOUNT_UNKNOWN = 'BILLINGACCOUNT_NOT_FOUND';

const CLOSE_WAIT_REASONS: ReadonlySet<string> = new Set(['BILLING_PERIOD_NOT_ENDED', ACCOUNT_UNKNOWN, 'PLAN_VERSION_UNKNOWN']);

export function closeRefusalKind(reason: string): CloseRefusalKind {
  return CLOSE_WAIT_REASONS.has(reason) ? 'WAIT' : 'BUG';
}
