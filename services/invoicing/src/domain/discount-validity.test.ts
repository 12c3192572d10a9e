// A discount valid for only part of the billing period (validFrom/validTo inside it) gave its
// whole amount, and a percent applied to the whole period's charges. Now a fixed amount is
// prorated to the days it is valid in (the day rule of proration), a percent applies to the
// recurring fees of those days (fees are dated by their plan segments) and to the prorated share of
// usage and one-offs (not dated finely enough here), and each stays capped by what is left of its
// target in those days.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type DiscountItem, type RecurringItem } from './compose';
import { periodEndingOn } from './period';

const TZ = 'Europe/Berlin';
const period = periodEndingOn('2026-10-01', 1, TZ); // 1 Sep – 1 Oct local: 30 days
const local = (day: number, time = '00:00') => new Date(Date.parse(`2026-09-${String(day).padStart(2, '0')}T${time}:00Z`) - 2 * 3_600_000); // CEST
const plan = (over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'P20', planName: 'Postpaid 20 GB', fee: '30.00', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false, ...over,
});
const usage = (amount: string) => ({ usageType: 'DATA', zone: null, unit: 'MB', quantity: '100', amount, count: 1, taxCategory: 'TELECOM_STANDARD' });
const base = (over: Partial<ComposeInput> = {}): ComposeInput => ({ currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: TZ, period, recurring: [plan()], usage: [], oneOffs: [], discounts: [], taxRules: [], ...over });
const off = (inv: ReturnType<typeof composeInvoice>) => inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => [l.sourceRef, l.netAmount]);
const d = (code: string, over: Partial<DiscountItem>): DiscountItem => ({ code, description: code, ...over });

describe('a discount valid for part of the period', () => {
  it('a fixed amount valid 10 of 30 days gives 10/30 of it', () => {
    const inv = composeInvoice(base({ discounts: [d('TEN', { amount: '10.00', validFrom: local(11), validTo: local(21) })] }));
    expect(off(inv)).toEqual([['TEN', '-3.33']]); // 10.00 × 10/30 = 3.333… → 3.33
    expect(inv.netTotal).toBe('26.67');
  });

  it('validity inside a day follows the day rule: the day it starts counts, the day it ends does not', () => {
    const inv = composeInvoice(base({ discounts: [d('TEN', { amount: '9.00', validFrom: local(11, '15:00'), validTo: local(21, '15:00') })] }));
    expect(off(inv)).toEqual([['TEN', '-3.00']]); // 11–20 Sep: 10 days
  });

  it('a discount valid beyond both ends of the period gives all of it (as before)', () => {
    const inv = composeInvoice(base({ discounts: [d('TEN', { amount: '10.00', validFrom: new Date('2026-01-01T00:00:00Z'), validTo: new Date('2027-01-01T00:00:00Z') })] }));
    expect(off(inv)).toEqual([['TEN', '-10.00']]);
  });

  it('a percent applies to the recurring fees of its days: 50 % while on the old plan only', () => {
    const at = local(16);
    const inv = composeInvoice(
      base({
        recurring: [plan({ fee: '29.99', to: at }), plan({ subscriptionId: 'sub_2', planName: 'Postpaid 50 GB', fee: '45.00', from: at })],
        discounts: [d('HALF', { percent: '50', validTo: at })],
      }),
    );
    expect(off(inv)).toEqual([['HALF', '-7.50']]); // 50 % × 29.99 × 15/30 = 7.4975 → 7.50; the 45.00 plan untouched
  });

  it('a percent on usage (not dated per day here) applies to the prorated share', () => {
    const inv = composeInvoice(base({ recurring: [], usage: [usage('30.00')], discounts: [d('ROAM20', { percent: '20', target: 'USAGE', validFrom: local(21) })] }));
    expect(off(inv)).toEqual([['ROAM20', '-2.00']]); // 20 % × 30.00 × 10/30
  });

  it('usage lies on the days the account held a plan: a line from the 16th, 20 % on usage from the 21st takes 10 of those 15 days', () => {
    const inv = composeInvoice(base({ recurring: [plan({ from: local(16) })], usage: [usage('30.00')], discounts: [d('ROAM20', { percent: '20', target: 'USAGE', validFrom: local(21) })] }));
    expect(off(inv)).toEqual([['ROAM20', '-4.00']]); // 20 % × 30.00 × 10/15 (no usage before the line joined), not × 10/30
  });

  it('a fixed amount is capped by its target in its days: nothing when the plan starts after it ends', () => {
    const inv = composeInvoice(base({ recurring: [plan({ from: local(21) })], discounts: [d('WELCOME', { amount: '15.00', validTo: local(16) })] }));
    expect(off(inv)).toEqual([]);
    expect(inv.netTotal).toBe('10.00');
  });

  it('stacked discounts valid on the same days take at most those days’ charges', () => {
    const inv = composeInvoice(
      base({
        discounts: [d('FREE', { percent: '100', validTo: local(16) }), d('MORE', { amount: '30.00', validTo: local(16) })],
      }),
    );
    // FREE takes the 15.00 of 1–15 Sep; MORE (15.00 for its 15 days) finds nothing left in them.
    expect(off(inv)).toEqual([['FREE', '-15.00']]);
    expect(inv.netTotal).toBe('15.00');
  });

  it('property: discounts with any validity never exceed their target, and lines add up', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            target: fc.constantFrom<'RECURRING' | 'USAGE' | 'INVOICE'>('RECURRING', 'USAGE', 'INVOICE'),
            percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
            amount: fc.integer({ min: 1, max: 10_000 }),
            from: fc.option(fc.integer({ min: -5, max: 35 }), { nil: null }),
            days: fc.option(fc.integer({ min: 1, max: 40 }), { nil: null }),
          }),
          { maxLength: 4 },
        ),
        fc.integer({ min: 0, max: 29 }),
        (discounts, planFrom) => {
          const inv = composeInvoice(
            base({
              recurring: [plan({ fee: '29.99', from: local(1 + planFrom, '13:00') })],
              usage: [usage('12.345')],
              discounts: discounts.map((x, i) => {
                const from = x.from == null ? null : new Date(period.start.getTime() + x.from * 86_400_000);
                const to = x.days == null ? null : new Date((from ?? period.start).getTime() + x.days * 86_400_000);
                return d(`D${i}`, { target: x.target, validFrom: from, validTo: to, ...(x.percent != null ? { percent: String(x.percent) } : { amount: `${Math.floor(x.amount / 100)}.${String(x.amount % 100).padStart(2, '0')}` }) });
              }),
            }),
          );
          const sum = (kind: string) => inv.lines.filter((l) => l.kind === kind).reduce((n, l) => n.plus(l.netAmount), dec('0'));
          expect(sum('DISCOUNT').negated().lte(sum('RECURRING').plus(sum('USAGE')))).toBe(true);
          expect(inv.lines.reduce((n, l) => n.plus(l.netAmount), dec('0')).toFixed(2)).toBe(inv.netTotal);
          expect(dec(inv.netTotal).isNegative()).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
