// A plan change during a day billed that day on both plans: compose counted each segment's days
// with a rounding `daysBetween`, so a change at noon made 15.5 days → 16 and 14.5 → 15, and a
// 30-day period billed 31 days. Now every instant belongs to exactly one segment and a day on
// which the plan changes goes wholly to the new plan (subscribers' quote rule); the days of a
// line's segments add up to the period's days.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type RecurringItem } from './compose';
import { periodDays, periodEndingOn, startOfLocalDay } from './period';

const TZ = 'Europe/Berlin';
const period = periodEndingOn('2026-10-01', 1, TZ); // 1 Sep – 1 Oct local: 30 days
const plan = (over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'POSTPAID_20GB', planName: 'Postpaid 20 GB', fee: '29.99', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false, ...over,
});
const base = (over: Partial<ComposeInput> = {}): ComposeInput => ({ currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: TZ, period, recurring: [], usage: [], oneOffs: [], discounts: [], taxRules: [], ...over });
const change = (at: Date, over: Partial<ComposeInput> = {}) =>
  composeInvoice(base({ recurring: [plan({ to: at }), plan({ subscriptionId: 'sub_2', planCode: 'POSTPAID_50GB', planName: 'Postpaid 50 GB', fee: '45.00', from: at })], ...over }));

describe('proration: the change day is billed once, on the new plan', () => {
  it('a change at noon local: 15 days old plan (1–15 Sep), 15 days new plan (16–30 Sep), not 16 + 15', () => {
    const inv = change(new Date('2026-09-16T10:00:00Z')); // 16 Sep 12:00 Berlin
    expect(inv.lines.map((l) => [l.quantity, l.netAmount])).toEqual([
      ['0.5', '15.00'], // 29.99 × 15/30 = 14.995 → 15.00 half-even
      ['0.5', '22.50'], // 45 × 15/30
    ]);
    expect(inv.lines[0]!.description).toContain('15/30 days');
    expect(inv.lines[1]!.description).toContain('15/30 days');
    expect(inv.netTotal).toBe('37.50');
  });

  it('a change one minute before midnight still gives that day to the new plan', () => {
    const inv = change(new Date('2026-09-15T21:59:00Z')); // 15 Sep 23:59 Berlin
    expect(inv.lines.map((l) => l.description.match(/(\d+)\/30 days/)?.[1])).toEqual(['14', '16']);
  });

  it('a change at local midnight splits where it always did', () => {
    const inv = change(new Date('2026-09-15T22:00:00Z')); // 16 Sep 00:00 Berlin
    expect(inv.lines.map((l) => l.netAmount)).toEqual(['15.00', '22.50']);
  });

  it('a change during the DST day counts that 23 h day once, on the new plan', () => {
    const march = periodEndingOn('2026-04-01', 1, TZ); // 1 Mar – 1 Apr, 31 days, 29 Mar has 23 h
    const inv = change(new Date('2026-03-29T10:00:00Z'), { period: march }); // 29 Mar 12:00 CEST
    expect(inv.lines.map((l) => l.description.match(/(\d+)\/31 days/)?.[1])).toEqual(['28', '3']);
  });

  it('a plan held only within one day is not billed (the day went to the plan after it)', () => {
    const a = new Date('2026-09-16T06:00:00Z');
    const b = new Date('2026-09-16T14:00:00Z');
    const inv = composeInvoice(base({ recurring: [plan({ to: a }), plan({ subscriptionId: 'sub_2', planName: 'Short', from: a, to: b }), plan({ subscriptionId: 'sub_3', planName: 'Last', from: b })] }));
    expect(inv.lines.map((l) => [l.description.split(' (')[0], l.description.match(/(\d+)\/30 days/)?.[1]])).toEqual([
      ['Postpaid 20 GB', '15'],
      ['Last', '15'],
    ]);
  });
});

const ZONES = ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const CYCLE_DATES = ['2026-01-01', '2026-04-01', '2026-03-15', '2026-11-05', '2026-10-31', '2026-03-31'];

describe('proration: segments of a period add up to the period', () => {
  it('the day fractions of any partition of the period sum to the whole period (each day once)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...CYCLE_DATES),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 6 }),
        (timeZone, cycleDate, cuts) => {
          const p = periodEndingOn(cycleDate, Number(cycleDate.slice(8)), timeZone);
          const { total } = periodDays(p, timeZone);
          const length = p.end.getTime() - p.start.getTime();
          const at = [...new Set(cuts.map((c) => p.start.getTime() + Math.floor((c / 1_000_000) * length)))].sort((x, y) => x - y).map((ms) => new Date(ms));
          const bounds = [new Date(p.start.getTime() - 86_400_000), ...at, null];
          // The same plan at 1.00 a day on every segment, each on a line of its own: the lines add
          // up to exactly the full fee, which they cannot if a day is billed twice or not at all.
          const fee = `${total}.00`;
          const recurring = bounds.slice(0, -1).map((from, i) => plan({ subscriptionId: `s${i}`, lineId: `l${i}`, fee, from: from!, to: bounds[i + 1] ?? null }));
          const inv = composeInvoice(base({ timeZone, period: p, recurring }));
          const net = inv.lines.reduce((n, l) => n.plus(l.netAmount), dec('0'));
          expect(net.toFixed(2)).toBe(fee);
          for (const l of inv.lines) expect(dec(l.netAmount).isInteger()).toBe(true); // whole days at 1.00
        },
      ),
      { numRuns: 300 },
    );
  });

  it('periodDays: a day on which something changes belongs to what comes after', () => {
    const d = periodDays(period, TZ);
    expect(d.total).toBe(30);
    expect(d.dayOf(new Date('2026-08-01T00:00:00Z'))).toBe(0);
    expect(d.dayOf(new Date('2026-09-16T10:00:00Z'))).toBe(15);
    expect(d.dayOf(new Date('2026-09-15T22:00:00Z'))).toBe(15);
    expect(d.dayOf(new Date('2026-09-15T21:59:59Z'))).toBe(14);
    expect(d.dayOf(period.end)).toBe(30);
    expect(startOfLocalDay(new Date('2026-03-29T10:00:00Z'), TZ).toISOString()).toBe('2026-03-28T23:00:00.000Z');
  });
});
