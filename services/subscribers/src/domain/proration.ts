import { allocate, dec, money, negate, round, type FeePeriod, type Money } from '@ledgerline/contracts';
import { billingPeriodOf, dayNumber, formatLocalDate, type BillingPeriod, type LocalDate } from './calendar';

/**
 * Daily proration of a recurring fee over a billing period of `periodDays` local days.
 *
 * `accrued(fee, k)` is the part of the fee earned by the first `k` days: the fee split in the
 * ratio k : (N − k) at the currency's minor unit with `allocate`, so each split adds back to the
 * fee exactly. The price of days [from, to) is `accrued(to) − accrued(from)`; these telescope, so
 * the pieces of any partition of the period add up to exactly the full-period fee.
 */
export function accrued(fee: Money, days: number, periodDays: number): Money {
  if (!Number.isInteger(periodDays) || periodDays <= 0) throw new RangeError(`periodDays must be a positive integer, got ${periodDays}`);
  if (!Number.isInteger(days) || days < 0 || days > periodDays) throw new RangeError(`days must be within 0..${periodDays}, got ${days}`);
  const full = round(fee);
  if (days === 0) return money('0', fee.currency);
  if (days === periodDays) return full;
  return allocate(full, [String(days), String(periodDays - days)])[0]!;
}

/** The price of local days [fromDay, toDay) of the period (day offsets from its start). */
export function priceOfDays(fee: Money, fromDay: number, toDay: number, periodDays: number): Money {
  if (fromDay > toDay) throw new RangeError('fromDay must not be after toDay');
  const a = accrued(fee, toDay, periodDays);
  const b = accrued(fee, fromDay, periodDays);
  return round(money(dec(a.amount).minus(dec(b.amount)), fee.currency));
}

export interface RecurringFee {
  amount: Money;
  proration: 'DAILY' | 'NONE';
  /** How often it comes round (the allowance period; wallets' default when a plan names none: 30 days). */
  period: FeePeriod;
}

export interface OneOffItem {
  kind: 'CREDIT' | 'CHARGE';
  /** Negative for a credit. */
  amount: Money;
  description: string;
  planCode: string;
  /** Local dates, end exclusive. */
  periodStart: string;
  periodEnd: string;
  days: number;
}

export interface PlanChangeQuote {
  period: BillingPeriod;
  /** The change takes effect at the start of this local day. */
  effectiveDate: LocalDate;
  usedDays: number;
  remainingDays: number;
  items: OneOffItem[];
  total: Money;
}

export interface QuoteInput {
  currency: string;
  billCycleDay: number;
  /** The local date (account time zone) the change takes effect. */
  effectiveDate: LocalDate;
  from: { planCode: string; fee: RecurringFee | null };
  to: { planCode: string; fee: RecurringFee | null };
}

/**
 * What an immediate plan change inside a billing period does to the period's bill: the unused
 * days of the old fee come off it, the remaining days of the new one go on. The day of the change
 * is billed on the new plan. A fee that does not prorate (proration NONE) is neither credited nor
 * charged here. An estimate for the customer (the preview): invoicing bills a postpaid line's fees
 * at the period's close from the plans held, day by day with the same rule, so these items are
 * never charged themselves (they were, until 2026-12, and the change was billed twice).
 */
export function quotePlanChange(q: QuoteInput): PlanChangeQuote {
  const period = billingPeriodOf(q.effectiveDate, q.billCycleDay);
  const usedDays = dayNumber(q.effectiveDate) - dayNumber(period.start);
  const remainingDays = period.days - usedDays;
  const items: OneOffItem[] = [];
  const span = { periodStart: formatLocalDate(q.effectiveDate), periodEnd: formatLocalDate(period.end), days: remainingDays };
  if (q.from.fee && q.from.fee.proration === 'DAILY') {
    const unused = priceOfDays(q.from.fee.amount, usedDays, period.days, period.days);
    if (!unused.amount.match(/^0(\.0+)?$/)) {
      items.push({ kind: 'CREDIT', amount: negate(unused), description: `Credit for ${remainingDays} unused day(s) of ${q.from.planCode}`, planCode: q.from.planCode, ...span });
    }
  }
  if (q.to.fee && q.to.fee.proration === 'DAILY') {
    const remaining = priceOfDays(q.to.fee.amount, usedDays, period.days, period.days);
    if (!remaining.amount.match(/^0(\.0+)?$/)) {
      items.push({ kind: 'CHARGE', amount: remaining, description: `${remainingDays} day(s) of ${q.to.planCode}`, planCode: q.to.planCode, ...span });
    }
  }
  const total = round(money(items.reduce((acc, i) => acc.plus(dec(i.amount.amount)), dec('0')), q.currency));
  return { period, effectiveDate: q.effectiveDate, usedDays, remainingDays, items, total };
}
