import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec, money } from '@ledgerline/contracts';
import { accrued, priceOfDays, quotePlanChange } from './proration';
import { billingPeriodOf, dayNumber, fromDayNumber, localDateOf, startOfLocalDay } from './calendar';

const DIGITS: Record<string, number> = { EUR: 2, JPY: 0, BHD: 3 };
const feeIn = (currency: string) => fc.bigInt({ min: 0n, max: 10_000_000n }).map((minor) => money(dec(minor.toString()).dividedBy(dec('10').pow(DIGITS[currency]!)), currency));
const currencyArb = fc.constantFrom('EUR', 'JPY', 'BHD');
const feeArb = currencyArb.chain(feeIn);
const feePairArb = currencyArb.chain((c) => fc.tuple(feeIn(c), feeIn(c)));

const sumOf = (amounts: string[]) => amounts.reduce((a, b) => a.plus(dec(b)), dec('0'));

describe('daily proration', () => {
  it('pieces of any partition of the period add up exactly to the full-period fee', () => {
    fc.assert(
      fc.property(feeArb, fc.integer({ min: 28, max: 31 }), fc.array(fc.integer({ min: 0, max: 31 }), { maxLength: 6 }), (fee, periodDays, cuts) => {
        const points = [...new Set([0, periodDays, ...cuts.filter((c) => c <= periodDays)])].sort((a, b) => a - b);
        const pieces = points.slice(1).map((to, i) => priceOfDays(fee, points[i]!, to, periodDays).amount);
        expect(sumOf(pieces).equals(dec(fee.amount))).toBe(true);
        for (const p of pieces) expect(dec(p).isNegative()).toBe(false);
      }),
    );
  });

  it('credit of the unused days plus the used days is the full fee; a change credits old and charges new exactly', () => {
    fc.assert(
      fc.property(feePairArb, fc.integer({ min: 1, max: 31 }), fc.date({ min: new Date('2024-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }), ([oldFee, newFee], bcd, when) => {
        const currency = oldFee.currency;
        const effectiveDate = localDateOf(when, 'Europe/Berlin');
        const quote = quotePlanChange({
          currency,
          billCycleDay: bcd,
          effectiveDate,
          from: { planCode: 'OLD', fee: { amount: oldFee, proration: 'DAILY', period: 'MONTH' } },
          to: { planCode: 'NEW', fee: { amount: newFee, proration: 'DAILY', period: 'MONTH' } },
        });
        const used = priceOfDays(oldFee, 0, quote.usedDays, quote.period.days).amount;
        const credit = quote.items.find((i) => i.kind === 'CREDIT')?.amount.amount ?? '0';
        // used part of the old plan − credit = old fee
        expect(dec(used).minus(dec(credit)).equals(dec(oldFee.amount))).toBe(true);
        // new charge + what the new plan would have cost for the used days = new fee
        const charge = quote.items.find((i) => i.kind === 'CHARGE')?.amount.amount ?? '0';
        expect(dec(charge).plus(dec(priceOfDays(newFee, 0, quote.usedDays, quote.period.days).amount)).equals(dec(newFee.amount))).toBe(true);
        expect(quote.usedDays + quote.remainingDays).toBe(quote.period.days);
        expect(dec(quote.total.amount).equals(dec(charge).plus(dec(credit)))).toBe(true);
      }),
    );
  });

  it('splits 30.00 EUR over a 30-day period at 1.00 a day', () => {
    expect(accrued(money('30', 'EUR'), 10, 30)).toEqual({ amount: '10.00', currency: 'EUR' });
    expect(priceOfDays(money('30', 'EUR'), 10, 30, 30)).toEqual({ amount: '20.00', currency: 'EUR' });
  });

  it('mid-cycle upgrade: day 16 of a 30-day period credits 15 days of the old plan and charges 15 days of the new', () => {
    const q = quotePlanChange({
      currency: 'EUR',
      billCycleDay: 1,
      effectiveDate: { year: 2026, month: 11, day: 16 },
      from: { planCode: 'POSTPAID_20GB', fee: { amount: money('29.99', 'EUR'), proration: 'DAILY', period: 'MONTH' } },
      to: { planCode: 'FAMILY_SHARE_50GB', fee: { amount: money('59.99', 'EUR'), proration: 'DAILY', period: 'MONTH' } },
    });
    expect(q.period).toEqual({ start: { year: 2026, month: 11, day: 1 }, end: { year: 2026, month: 12, day: 1 }, days: 30 });
    expect(q.usedDays).toBe(15);
    expect(q.items.map((i) => [i.kind, i.amount.amount])).toEqual([
      ['CREDIT', '-14.99'],
      ['CHARGE', '29.99'],
    ]);
    expect(q.total).toEqual({ amount: '15.00', currency: 'EUR' });
  });

  it('does not prorate a fee with proration NONE', () => {
    const q = quotePlanChange({
      currency: 'EUR',
      billCycleDay: 5,
      effectiveDate: { year: 2026, month: 3, day: 20 },
      from: { planCode: 'A', fee: { amount: money('15', 'EUR'), proration: 'NONE', period: 'MONTH' } },
      to: { planCode: 'B', fee: null },
    });
    expect(q.items).toEqual([]);
    expect(q.total.amount).toBe('0.00');
  });
});

describe('billing periods in the account time zone', () => {
  it('bills day 31 on the last day of short months', () => {
    expect(billingPeriodOf({ year: 2026, month: 2, day: 28 }, 31)).toEqual({ start: { year: 2026, month: 2, day: 28 }, end: { year: 2026, month: 3, day: 31 }, days: 31 });
    expect(billingPeriodOf({ year: 2026, month: 2, day: 27 }, 31)).toEqual({ start: { year: 2026, month: 1, day: 31 }, end: { year: 2026, month: 2, day: 28 }, days: 28 });
  });
  it('crosses the year', () => {
    expect(billingPeriodOf({ year: 2026, month: 1, day: 3 }, 15)).toMatchObject({ start: { year: 2025, month: 12, day: 15 }, end: { year: 2026, month: 1, day: 15 } });
  });
  it('periods tile the calendar: every day belongs to exactly one period', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 31 }), fc.integer({ min: dayNumber({ year: 2024, month: 1, day: 1 }), max: dayNumber({ year: 2030, month: 12, day: 31 }) }), (bcd, n) => {
        const p = billingPeriodOf(fromDayNumber(n), bcd);
        expect(dayNumber(p.start) <= n && n < dayNumber(p.end)).toBe(true);
        expect(billingPeriodOf(p.end, bcd).start).toEqual(p.end);
      }),
    );
  });
  it('uses the local date: 23:30 UTC on Oct 31 is already Nov 1 in Berlin', () => {
    expect(localDateOf(new Date('2026-10-31T23:30:00Z'), 'Europe/Berlin')).toEqual({ year: 2026, month: 11, day: 1 });
    expect(startOfLocalDay({ year: 2026, month: 11, day: 1 }, 'Europe/Berlin').toISOString()).toBe('2026-10-31T23:00:00.000Z');
    expect(startOfLocalDay({ year: 2026, month: 7, day: 1 }, 'Europe/Berlin').toISOString()).toBe('2026-06-30T22:00:00.000Z');
  });
});
