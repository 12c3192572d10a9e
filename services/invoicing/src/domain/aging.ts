// Accounts-receivable aging: the rules of the report that do not need the database (its buckets, the
// days past due, its currency and asOf, the cursor of its per-account breakdown). The report's SQL
// (application/receivables-aging.ts) counts days and picks buckets exactly as `daysPastDue` and
// `bucketOf` here say; the integration test pins the two together at the boundaries.
import { badInput, minorUnits } from '@ledgerline/contracts';

export interface AgingBucketDef {
  /** `current`, `1-30`, `31-60`, …, `90+` (more than 90 days). */
  label: string;
  /** Whole days past due, both ends inclusive; maxDaysPastDue null: no upper end. `current` is 0–0. */
  minDaysPastDue: number;
  maxDaysPastDue: number | null;
}

export const DEFAULT_AGING_BOUNDS: readonly number[] = [30, 60, 90];
const MAX_BOUNDS = 12;
const MAX_DAYS = 36_500;
const DAY_MS = 86_400_000;

/**
 * The buckets of a report from its upper bounds (`[30, 60, 90]`: current, 1-30, 31-60, 61-90, 90+).
 * Null or left out: the default. Bounds are whole days, strictly increasing, from 1 to 36500, at
 * most 12 of them; anything else is BAD_USER_INPUT on `buckets`.
 */
export function agingBuckets(bounds: readonly number[] | null | undefined): AgingBucketDef[] {
  const b = bounds ?? DEFAULT_AGING_BOUNDS;
  const refuse = (why: string) => badInput('buckets', `buckets ${why}, e.g. [30, 60, 90] for current, 1-30, 31-60, 61-90 and 90+ days past due`, 'AGING_BUCKETS_INVALID');
  if (b.length === 0) throw refuse('needs at least one bound');
  if (b.length > MAX_BOUNDS) throw refuse(`takes at most ${MAX_BOUNDS} bounds`);
  b.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > MAX_DAYS) throw refuse(`are whole days from 1 to ${MAX_DAYS}`);
    if (i > 0 && n <= b[i - 1]!) throw refuse('go up strictly');
  });
  const out: AgingBucketDef[] = [{ label: 'current', minDaysPastDue: 0, maxDaysPastDue: 0 }];
  let from = 1;
  for (const n of b) {
    out.push({ label: `${from}-${n}`, minDaysPastDue: from, maxDaysPastDue: n });
    from = n + 1;
  }
  out.push({ label: `${b.at(-1)}+`, minDaysPastDue: from, maxDaysPastDue: null });
  return out;
}

/**
 * Where the buckets after `current` start (`[1, 31, 61, 91]`): PostgreSQL's width_bucket(days, these)
 * is the bucket's index (0 = current), as `bucketOf` is.
 */
export const bucketThresholds = (buckets: readonly AgingBucketDef[]): number[] => buckets.slice(1).map((b) => b.minDaysPastDue);

/**
 * Days past due at `asOf` of an invoice due at the instant `due`: 0 up to and including the due instant
 * (current), then the started 24-hour days since it (a millisecond late is day 1, 30 days and a
 * millisecond is day 31). A due date is an instant (issue + payment terms × 24 h), so the account's
 * time zone plays no part: 24-hour days from it are the same everywhere.
 */
export function daysPastDue(asOf: Date, due: Date): number {
  const late = asOf.getTime() - due.getTime();
  return late <= 0 ? 0 : Math.ceil(late / DAY_MS);
}

/** The index of the bucket `days` falls in. */
export function bucketOf(days: number, buckets: readonly AgingBucketDef[]): number {
  return bucketThresholds(buckets).filter((t) => days >= t).length;
}

/**
 * The one currency of a report: an ISO 4217 code we bill in. A list (`EUR,USD`) is refused — amounts in
 * two currencies are never added up — as is a code that is not one; BAD_USER_INPUT on `currency`.
 */
export function agingCurrency(currency: string): string {
  const code = currency.trim();
  if (code.split(/[^A-Za-z]+/).filter(Boolean).length > 1) {
    throw badInput('currency', 'One currency per report (amounts in two currencies are never added up): ask for each currency in its own report', 'AGING_CURRENCY_MIXED');
  }
  if (!/^[A-Z]{3}$/.test(code)) throw badInput('currency', `"${currency}" is not an ISO 4217 currency code (e.g. EUR)`, 'AGING_CURRENCY_INVALID');
  try {
    minorUnits(code);
  } catch {
    throw badInput('currency', `"${currency}" is not a currency Ledgerline bills in`, 'AGING_CURRENCY_INVALID');
  }
  return code;
}

/** The report's instant: `asOf`, or now. The book cannot be read as it will stand: a future asOf is BAD_USER_INPUT on `asOf`. */
export function agingAsOf(asOf: Date | null | undefined, now: Date): Date {
  if (!asOf) return now;
  if (asOf.getTime() > now.getTime()) throw badInput('asOf', `asOf is in the future (now is ${now.toISOString()}); leave it out for now`, 'AGING_AS_OF_IN_FUTURE');
  return asOf;
}

export type AgingAccountOrder = 'OLDEST_FIRST' | 'LARGEST_FIRST';

/** Where a page of the per-account breakdown ends: the sort keys of its last account. */
export interface AgingCursor {
  order: AgingAccountOrder;
  /** The account's oldest due date, to the microsecond (PostgreSQL's text of it, UTC). */
  oldestDue: string;
  /** Its open amount, as a decimal string. */
  open: string;
  billingAccountId: string;
}

export const encodeAgingCursor = (c: AgingCursor): string => Buffer.from(JSON.stringify([c.order, c.oldestDue, c.open, c.billingAccountId]), 'utf8').toString('base64url');

/** A cursor this report issued for the same order; anything else is BAD_USER_INPUT on `after`. */
export function decodeAgingCursor(cursor: string, order: AgingAccountOrder): AgingCursor {
  const refuse = () => badInput('after', 'This cursor was not issued by receivablesAging.accounts for this order', 'CURSOR_INVALID');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== order) throw refuse();
  const [, oldestDue, open, billingAccountId] = parsed as unknown[];
  if (typeof oldestDue !== 'string' || Number.isNaN(Date.parse(oldestDue)) || typeof open !== 'string' || !/^-?\d+(\.\d+)?$/.test(open) || typeof billingAccountId !== 'string') throw refuse();
  return { order, oldestDue, open, billingAccountId };
}
