/**
 * Spend alerts a customer (or staff for them) sets on their own billing account or one of its lines: "tell me when
 * this bill period's usage charges reach 50 EUR". Pure: the bill period an instant falls in, the input rules, and
 * which alerts an event's spend takes past their amount. See application/spend-alerts.ts for where they are kept,
 * and usage-pipeline.ts for where they are checked (only for accounts that have alerts).
 *
 * What counts as spend: what usage counts as money for the account's usage (a record's charge once wallets applied it,
 * else the rating's estimate; DENIED charges count nothing): usage charged on top of the plan - calls, messages and
 * data past the allowances or outside them, roaming, premium content - the same figures `Line.usage.spend` and
 * `BillingAccount.usage.spend` sum. Recurring fees, one-off charges, discounts and taxes are invoicing's and are not in
 * it: the alert is about the part of the bill that grows with use, which the customer can act on.
 * Over which period: the account's bill period (subscribers' bill-cycle day, in the account's time zone, as its
 * invoices bill usage by when it occurred), named by its first local day.
 */
import { Decimal, dec, daysInMonth, localMidnight, localParts, minorUnits, type AllowancePeriod } from '@ledgerline/contracts';
import { TOTAL_BUCKET, bucketOf, type LineCounters } from './live-usage';

/** When an account's bills run: what usage learnt from subscribers' billingaccount.created. */
export interface BillTerms {
  billCycleDay: number;
  timezone: string;
}

/**
 * Accounts usage knows no terms of: calendar months in UTC, subscribers' defaults. Only until their billingaccount.created
 * is read (an account `owners` recorded before 2027-01-31 is read again by the `owners-terms` durable), or for good
 * when that event is no longer on the stream or carries no readable terms.
 */
export const DEFAULT_BILL_TERMS: BillTerms = { billCycleDay: 1, timezone: 'UTC' };

/** At most this many alerts per billing account (the account's own and one per line). */
export const MAX_SPEND_ALERTS_PER_ACCOUNT = 20;

/** The largest alert amount taken (in the account's currency). */
export const MAX_SPEND_ALERT_AMOUNT = dec('1000000000');

export interface SpendAlert {
  id: string;
  billingAccountId: string;
  /** null: the account's alert (every line's spend together); else the line's own. */
  lineId: string | null;
  amount: Decimal;
  currency: string;
}

/** The bill cycle's day in a month: day 29-31 bills on the last day of shorter months. */
function cycleDayIn(year: number, month: number, billCycleDay: number): number {
  return Math.min(billCycleDay, daysInMonth(year, month));
}

/**
 * The bill period containing `at`: from the bill-cycle day's local midnight to the next one (subscribers'
 * billingPeriodOf on local dates, the account's time zone), named by its first local day.
 */
export function billPeriodAt(terms: BillTerms, at: Date): AllowancePeriod {
  const p = localParts(at, terms.timezone);
  let year = p.year;
  let month = p.month;
  if (p.day < cycleDayIn(year, month, terms.billCycleDay)) {
    month -= 1;
    if (month === 0) [year, month] = [year - 1, 12];
  }
  const startDay = cycleDayIn(year, month, terms.billCycleDay);
  const [nextYear, nextMonth] = month === 12 ? [year + 1, 1] : [year, month + 1];
  return {
    period: `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(startDay).padStart(2, '0')}`,
    start: localMidnight(year, month, startDay, terms.timezone),
    end: localMidnight(nextYear, nextMonth, cycleDayIn(nextYear, nextMonth, terms.billCycleDay), terms.timezone),
  };
}

/**
 * The bill periods overlapping [from, to) that have not ended by `now`: those whose spend a change to the records of
 * that range (a re-rate) can still take past an alert. A period already over tells nothing, as in the rating path.
 */
export function billPeriodsNotEnded(terms: BillTerms, from: Date, to: Date, now: Date): AllowancePeriod[] {
  const out: AllowancePeriod[] = [];
  for (let at = from > now ? from : now; at < to; ) {
    const period = billPeriodAt(terms, at);
    out.push(period);
    at = period.end;
  }
  return out;
}

/** What is wrong with an alert amount (a decimal string, as the Decimal scalar hands it), naming the field; undefined when nothing is. */
export function spendAlertAmountProblem(amount: string, currency: string, accountCurrency: string): { field: string; code: string; message: string } | undefined {
  if (currency !== accountCurrency) return { field: 'input.amount.currency', code: 'CURRENCY_MISMATCH', message: `the billing account is billed in ${accountCurrency}: an alert is set in ${accountCurrency}, not ${currency}` };
  const value = dec(amount);
  if (!value.isFinite() || !value.gt(0)) return { field: 'input.amount.amount', code: 'SPEND_ALERT_AMOUNT_INVALID', message: `the alert amount must be more than 0 ${currency}` };
  const digits = minorUnits(currency);
  if (value.decimalPlaces() > digits) return { field: 'input.amount.amount', code: 'SPEND_ALERT_AMOUNT_INVALID', message: `${currency} has ${digits} decimal places: "${amount}" has more` };
  if (value.gt(MAX_SPEND_ALERT_AMOUNT)) return { field: 'input.amount.amount', code: 'SPEND_ALERT_AMOUNT_INVALID', message: `the alert amount may be at most ${MAX_SPEND_ALERT_AMOUNT.toFixed()} ${currency}` };
  return undefined;
}

/** An alert an event took to (or past) its amount, and the spend then (the account's, or the line's for a line's alert). */
export interface SpendCrossing {
  alert: SpendAlert;
  spent: Decimal;
}

/** The spend an alert is about in a bill period's counters: the account's (TOTAL_BUCKET), or its line's. */
const spentOn = (counters: LineCounters, alert: SpendAlert): Decimal => counters.get(alert.lineId ?? TOTAL_BUCKET)?.spend ?? dec('0');

/**
 * Every alert whose spend in a bill period's counters is at or past its amount, with no event booked: after the
 * period's records changed otherwise than by a rated event (a re-rate's adjustments). The caller keeps each report
 * once (emitted_event): alerts told before in the period are reported again and dropped there.
 */
export function reachedAlerts(counters: LineCounters, alerts: readonly SpendAlert[]): SpendCrossing[] {
  const out: SpendCrossing[] = [];
  for (const alert of alerts) {
    const spent = spentOn(counters, alert);
    if (spent.gte(alert.amount)) out.push({ alert, spent });
  }
  return out;
}

/**
 * Books an event's spend (`spend`, on line `lineId`) into an account's spend counters of a bill period (TOTAL_BUCKET:
 * the account; a bucket per line id) and says which of the account's alerts it took to their amount: an account
 * alert by the account's spend, the line's alert by the line's. The first event on counters loaded from the records
 * (`fromRecords` on the total) reports every alert whose spend is at or past its amount, whichever line it is on: a
 * crossing whose event was lost (a failed write rated again on counters that already held later records) is then
 * reported, and the caller keeps each report once (emitted_event).
 */
export function bookSpend(counters: LineCounters, lineId: string, spend: Decimal, alerts: readonly SpendAlert[]): SpendCrossing[] {
  const total = bucketOf(counters, TOTAL_BUCKET);
  const line = bucketOf(counters, lineId);
  const loaded = total.fromRecords === true;
  if (loaded) total.fromRecords = false;
  const accountBefore = total.spend;
  const lineBefore = line.spend;
  if (!spend.isZero()) {
    total.spend = total.spend.plus(spend);
    line.spend = line.spend.plus(spend);
  }
  const crossed: SpendCrossing[] = [];
  for (const alert of alerts) {
    let before: Decimal;
    let after: Decimal;
    if (alert.lineId === null) [before, after] = [accountBefore, total.spend];
    else if (alert.lineId === lineId) [before, after] = [lineBefore, line.spend];
    else if (loaded) before = after = counters.get(alert.lineId)?.spend ?? dec('0');
    else continue;
    if (after.gte(alert.amount) && (loaded || before.lt(alert.amount))) crossed.push({ alert, spent: after });
  }
  return crossed;
}
