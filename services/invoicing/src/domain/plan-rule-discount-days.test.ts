// Plan-rule discounts (a plan's `discount` rules with scope INVOICE/USAGE/RECURRING) applied to the
// whole billing period even when the plan carrying the rule was held for part of it (a mid-period
// plan change) or for none of its days: 10 % RECURRING on plan A took 10 % of plan B's fee too.
// Now such a discount counts only the days its plan was held (`heldDuring`, its segments), by the
// day rule and caps of coupon validity; on RECURRING only that plan's fees; on USAGE the prorated
// share of the usage for those days (usage reaches composition summed per type × zone, not per plan).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type DiscountItem, type RecurringItem } from './compose';
import { periodEndingOn } from './period';

const TZ = 'Europe/Berlin';
const period = periodEndingOn('2026-10-01', 1, TZ); // 1 Sep – 1 Oct local: 30 days
const local = (day: number, time = '00:00') => new Date(Date.parse(`2026-09-${String(day).padStart(2, '0')}T${time}:00Z`) - 2 * 3_600_000); // CEST
const LONG_AGO = new Date('2026-01-01T00:00:00Z');
const planA = (over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'LOYAL', planName: 'Loyal 20 GB', fee: '29.99', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: LONG_AGO, to: null, shared: false, ...over,
});
const planB = (over: Partial<RecurringItem> = {}): RecurringItem => planA({ planCode: 'P50', planName: 'Postpaid 50 GB', fee: '45.00', ...over });
const usage = (amount: string) => ({ usageType: 'DATA', zone: null, unit: 'MB', quantity: '100', amount, count: 1, taxCategory: 'TELECOM_STANDARD' });
const base = (over: Partial<ComposeInput> = {}): ComposeInput => ({ currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: TZ, period, recurring: [], usage: [], oneOffs: [], discounts: [], taxRules: [], ...over });
const off = (inv: ReturnType<typeof composeInvoice>) => inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => [l.sourceRef, l.netAmount]);
/** A plan rule of plan LOYAL, as bill-accounts builds it from the plan's segments. */
const rule = (over: Partial<DiscountItem>, heldDuring: DiscountItem['heldDuring']): DiscountItem => ({
  code: 'PLAN:LOYAL:loyalty', description: 'Loyalty', target: 'RECURRING', planCode: (over.target ?? 'RECURRING') === 'RECURRING' ? 'LOYAL' : null, heldDuring, ...over,
});

describe('plan-rule discounts count only the days their plan was held', () => {
  it('a plan change on the 16th: 10 % RECURRING of plan A takes 10 % of A’s fee for days 1–15, not of B’s fee', () => {
    const at = local(16);
    const inv = composeInvoice(base({ recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })], discounts: [rule({ percent: '10' }, [{ from: LONG_AGO, to: at }])] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-1.50']]); // 10 % × 29.99 × 15/30 = 1.4995 → 1.50 (not 10 % × (15.00 + 22.50) = 3.75)
    expect(inv.netTotal).toBe('36.00'); // 15.00 + 22.50 − 1.50
  });

  it('a change in the middle of a day follows the day rule: the change day is the new plan’s', () => {
    const at = local(16, '12:00');
    const inv = composeInvoice(base({ recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })], discounts: [rule({ percent: '10' }, [{ from: LONG_AGO, to: at }])] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-1.50']]);
  });

  it('a plan held for none of the billed days gives no discount (left on the period’s first day, or ended before it)', () => {
    const at = local(1, '10:00'); // day 1 is wholly the new plan's
    for (const heldDuring of [[{ from: LONG_AGO, to: at }], [{ from: LONG_AGO, to: period.start }], [{ from: LONG_AGO, to: new Date(period.start.getTime() - 86_400_000) }]]) {
      const inv = composeInvoice(base({ recurring: [planB({ from: heldDuring[0]!.to! })], discounts: [rule({ percent: '10', target: 'INVOICE' }, heldDuring), rule({ code: 'PLAN:LOYAL:flat', amount: '5.00', target: 'INVOICE' }, heldDuring)] }));
      expect(off(inv)).toEqual([]);
      expect(inv.netTotal).toBe('45.00');
    }
  });

  it('a fixed amount is prorated to the plan’s days; INVOICE scope takes from every charge of those days', () => {
    const at = local(16);
    const inv = composeInvoice(
      base({
        recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })],
        discounts: [rule({ code: 'PLAN:LOYAL:flat', amount: '3.00', target: 'INVOICE' }, [{ from: LONG_AGO, to: at }])],
      }),
    );
    expect(off(inv)).toEqual([['PLAN:LOYAL:flat', '-1.50']]); // 3.00 × 15/30
  });

  it('USAGE scope: the prorated share of the usage for the plan’s days (usage is not dated per plan here)', () => {
    const at = local(11);
    const inv = composeInvoice(
      base({ recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })], usage: [usage('30.00')], discounts: [rule({ code: 'PLAN:LOYAL:usage', percent: '20', target: 'USAGE' }, [{ from: LONG_AGO, to: at }])] }),
    );
    expect(off(inv)).toEqual([['PLAN:LOYAL:usage', '-2.00']]); // 20 % × 30.00 × 10/30, not 20 % × 30.00 = 6.00
  });

  it('RECURRING scope: another line’s plan is not discounted on the same days', () => {
    const inv = composeInvoice(
      base({ recurring: [planA(), planB({ subscriptionId: 'sub_2', lineId: 'lin_2', msisdn: '+4915100000002' })], discounts: [rule({ percent: '10' }, [{ from: LONG_AGO, to: null }])] }),
    );
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-3.00']]); // 10 % × 29.99 = 2.999 → 3.00, not 10 % × 74.99 = 7.50
  });

  it('held twice in the period (A → B → A): the union of both spans', () => {
    const [b, back] = [local(11), local(21)];
    const inv = composeInvoice(
      base({
        recurring: [planA({ to: b }), planB({ subscriptionId: 'sub_2', from: b, to: back }), planA({ subscriptionId: 'sub_3', from: back })],
        discounts: [rule({ code: 'PLAN:LOYAL:flat', amount: '6.00' }, [{ from: LONG_AGO, to: b }, { from: back, to: null }])],
      }),
    );
    expect(off(inv)).toEqual([['PLAN:LOYAL:flat', '-4.00']]); // 6.00 × 20/30
  });

  it('a plan held the whole period gives all of it (as before)', () => {
    const inv = composeInvoice(base({ recurring: [planA()], usage: [usage('12.00')], discounts: [rule({ percent: '10' }, [{ from: LONG_AGO, to: null }]), rule({ code: 'PLAN:LOYAL:usage', percent: '50', target: 'USAGE' }, [{ from: LONG_AGO, to: null }])] }));
    expect(off(inv)).toEqual([
      ['PLAN:LOYAL:loyalty', '-3.00'],
      ['PLAN:LOYAL:usage', '-6.00'],
    ]);
  });

  it('property: a plan rule never takes more than its plan’s days of its target, and lines add up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 31 }),
        fc.constantFrom<'RECURRING' | 'USAGE' | 'INVOICE'>('RECURRING', 'USAGE', 'INVOICE'),
        fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
        fc.integer({ min: 1, max: 10_000 }),
        (changeDay, target, percent, amount) => {
          const at = new Date(period.start.getTime() + changeDay * 86_400_000 - 3_600_000);
          const inv = composeInvoice(
            base({
              recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })],
              usage: [usage('12.345')],
              discounts: [rule({ target, ...(percent != null ? { percent: String(percent) } : { amount: `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}` }) }, [{ from: LONG_AGO, to: at }])],
            }),
          );
          const heldDays = Math.max(0, Math.min(30, changeDay - 1)); // `at` is an hour before local midnight of day changeDay
          const aFee = dec('29.99').times(heldDays).dividedBy(30);
          const usageShare = dec('12.345').times(heldDays).dividedBy(30);
          const cap = target === 'RECURRING' ? aFee : target === 'USAGE' ? usageShare : aFee.plus(usageShare);
          const taken = inv.lines.filter((l) => l.kind === 'DISCOUNT').reduce((n, l) => n.minus(l.netAmount), dec('0'));
          expect(taken.lte(cap.plus('0.01'))).toBe(true); // rounding: at most a cent per line
          if (heldDays === 0) expect(taken.isZero()).toBe(true);
          expect(inv.lines.reduce((n, l) => n.plus(l.netAmount), dec('0')).toFixed(2)).toBe(inv.netTotal);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// Review 6: (1) two versions of one plan on two lines at once, each with its own RECURRING rule of the
// same name, stacked on both fees (the discount named only the plan code); (2) a USAGE rule on an
// account whose only line joined mid-period took half its percent (usage was spread over days with no plan).
describe('plan-rule discounts by plan version, and usage on the days a plan was held', () => {
  const v = (version: string, over: Partial<RecurringItem> = {}) => planA({ planVersionId: version, ...over });
  const line2 = { subscriptionId: 'sub_2', lineId: 'lin_2', msisdn: '+4915100000002' };
  const byVersion = (version: string, percent: string, over: Partial<DiscountItem> = {}) =>
    rule({ percent, description: `Loyalty ${percent}%`, planVersionIds: [version], ...over }, [{ from: LONG_AGO, to: null }]);

  it('two versions on two lines: each version’s RECURRING rule takes from its own line’s fee only', () => {
    const inv = composeInvoice(base({ recurring: [v('plv_1'), v('plv_2', line2)], discounts: [byVersion('plv_1', '10'), byVersion('plv_2', '20')] }));
    expect(inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => [l.description, l.netAmount])).toEqual([
      ['Loyalty 10%', '-3.00'], // 10 % × 29.99, not 10 % × 59.98
      ['Loyalty 20%', '-6.00'], // 20 % × 29.99, not 20 % of what is left of both fees
    ]);
    expect(inv.netTotal).toBe('50.98');
  });

  it('an identical rule carried by both versions is one discount over both fees', () => {
    const inv = composeInvoice(base({ recurring: [v('plv_1'), v('plv_2', line2)], discounts: [rule({ percent: '10', planVersionIds: ['plv_1', 'plv_2'] }, [{ from: LONG_AGO, to: null }])] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-6.00']]); // 10 % × 59.98 = 5.998
  });

  it('planVersionIds decides over planCode: another version of the plan (no rule) is not discounted', () => {
    const inv = composeInvoice(base({ recurring: [v('plv_1'), v('plv_2', line2)], discounts: [byVersion('plv_1', '10')] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-3.00']]);
  });

  it('a shared fee (one per account) is for every version held on its days: a rule of either version takes from it', () => {
    const family = (version: string, over: Partial<RecurringItem> = {}) => v(version, { planCode: 'FAMILY', planName: 'Family Share', fee: '60.00', shared: true, ...over });
    const inv = composeInvoice(base({ recurring: [family('plv_f1'), family('plv_f2', line2)], discounts: [rule({ percent: '10', planCode: 'FAMILY', planVersionIds: ['plv_f2'] }, [{ from: LONG_AGO, to: null }])] }));
    expect(inv.lines.filter((l) => l.kind === 'RECURRING').map((l) => l.netAmount)).toEqual(['60.00']);
    expect(off(inv)).toEqual([['PLAN:LOYAL:loyalty', '-6.00']]);
  });

  it('a USAGE rule of the only plan, held from the 16th: the whole percent of the usage', () => {
    const at = local(16);
    const inv = composeInvoice(base({ recurring: [planA({ from: at })], usage: [usage('30.00')], discounts: [rule({ code: 'PLAN:LOYAL:usage', percent: '20', target: 'USAGE' }, [{ from: at, to: null }])] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:usage', '-6.00']]); // 20 % × 30.00, not × 15/30
  });

  it('a USAGE rule of a plan left on the 11th for another: the share of the held days (10 of 30), as before', () => {
    const at = local(11);
    const inv = composeInvoice(
      base({ recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })], usage: [usage('30.00')], discounts: [rule({ code: 'PLAN:LOYAL:usage', percent: '20', target: 'USAGE' }, [{ from: LONG_AGO, to: at }])] }),
    );
    expect(off(inv)).toEqual([['PLAN:LOYAL:usage', '-2.00']]);
  });

  it('a line terminated on the 11th: usage lies on its 10 days, so its plan’s USAGE rule takes it all', () => {
    const at = local(11);
    const inv = composeInvoice(base({ recurring: [planA({ to: at })], usage: [usage('30.00')], discounts: [rule({ code: 'PLAN:LOYAL:usage', percent: '20', target: 'USAGE' }, [{ from: LONG_AGO, to: at }])] }));
    expect(off(inv)).toEqual([['PLAN:LOYAL:usage', '-6.00']]);
  });

  it('a plan without a fee (no recurring item): `planHeld` gives the days usage lies on', () => {
    const at = local(16);
    const inv = composeInvoice(base({ planHeld: [{ from: at, to: null }], usage: [usage('30.00')], discounts: [rule({ code: 'PLAN:PAYG:usage', percent: '20', target: 'USAGE' }, [{ from: at, to: null }])] }));
    expect(off(inv)).toEqual([['PLAN:PAYG:usage', '-6.00']]);
  });
});
