// Plan-rule surcharges (a plan's `surcharge` rules with scope INVOICE: "regulatory fee 2 % of the
// invoice", "network access fee 1.50 a month") validated and published but were never billed:
// compose had no input for them, so the operator's fee silently did not reach the invoice. Now
// they are billed like plan-rule discounts: for the days their plan was held (`heldDuring`, day
// rule), a percent of its plan's charges of those days after discounts (one line per tax category, taxed
// like those charges), a fixed amount prorated to those days (in the plan's tax category).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type DiscountItem, type RecurringItem, type SurchargeItem } from './compose';
import { periodEndingOn } from './period';

const TZ = 'Europe/Berlin';
const period = periodEndingOn('2026-10-01', 1, TZ); // 1 Sep – 1 Oct local: 30 days
const local = (day: number, time = '00:00') => new Date(Date.parse(`2026-09-${String(day).padStart(2, '0')}T${time}:00Z`) - 2 * 3_600_000); // CEST
const LONG_AGO = new Date('2026-01-01T00:00:00Z');
const RULES = [
  { jurisdiction: 'DE', category: 'TELECOM_STANDARD', rate: '0.19', inclusive: false, name: 'USt' },
  { jurisdiction: 'DE', category: 'REDUCED', rate: '0.07', inclusive: false, name: 'USt 7%' },
];
const planA = (over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'REGULATED', planVersionId: 'plv_reg_v1', planName: 'Regulated 20 GB', fee: '29.99', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: LONG_AGO, to: null, shared: false, ...over,
});
const planB = (over: Partial<RecurringItem> = {}): RecurringItem => planA({ planCode: 'P50', planVersionId: 'plv_p50_v1', planName: 'Postpaid 50 GB', fee: '45.00', ...over });
const usage = (amount: string) => ({ usageType: 'DATA', zone: null, unit: 'MB', quantity: '100', amount, count: 1, taxCategory: 'TELECOM_STANDARD' });
const base = (over: Partial<ComposeInput> = {}): ComposeInput => ({ currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: TZ, period, recurring: [], usage: [], oneOffs: [], discounts: [], taxRules: RULES, ...over });
/** A surcharge rule of plan REGULATED, as bill-accounts builds it from the plan's segments. */
const fee = (over: Partial<SurchargeItem>, heldDuring: SurchargeItem['heldDuring'] = [{ from: LONG_AGO, to: null }]): SurchargeItem => ({
  code: 'PLAN:REGULATED:regulatory-fee', description: 'Regulatory fee 2%', taxCategory: 'TELECOM_STANDARD', heldDuring, planVersionIds: ['plv_reg_v1'], ...over,
});
/** The same rule name on plan P50 (another line's plan), at its own percent. */
const feeB = (percent: string, heldDuring: SurchargeItem['heldDuring'] = [{ from: LONG_AGO, to: null }]): SurchargeItem =>
  fee({ code: 'PLAN:P50:regulatory-fee', description: `Regulatory fee ${percent}%`, percent, planVersionIds: ['plv_p50_v1'] }, heldDuring);
/** Two lines: lin_1 on REGULATED all month, lin_2 on P50 from `from`. */
const twoLines = (from: Date = LONG_AGO) => [planA(), planB({ subscriptionId: 'sub_2', lineId: 'lin_2', msisdn: '+4915100000002', from })];
const sum = (inv: ReturnType<typeof composeInvoice>, code: string) => inv.lines.filter((l) => l.sourceRef === code).reduce((n, l) => n.plus(l.netAmount), dec('0'));
const extra = (inv: ReturnType<typeof composeInvoice>) => inv.lines.filter((l) => l.sourceRef?.startsWith('PLAN:')).map((l) => [l.kind, l.description, l.taxCategory, l.netAmount, l.taxAmount]);
const addsUp = (inv: ReturnType<typeof composeInvoice>) => inv.lines.reduce((n, l) => n.plus(l.grossAmount), dec('0')).eq(inv.grossTotal);

describe('plan-rule surcharges (scope INVOICE) are billed', () => {
  it('a percent of its plan\'s charges (the only plan: every charge of the invoice), on its own line, taxed like them', () => {
    const inv = composeInvoice(base({ recurring: [planA()], usage: [usage('30.00')], surcharges: [fee({ percent: '2' })] }));
    expect(extra(inv)).toEqual([['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '1.20', '0.23']]); // 2 % × 59.99 = 1.1998 → 1.20
    expect(inv.netTotal).toBe('61.19');
    expect(addsUp(inv)).toBe(true);
  });

  it('a fixed amount a month, in the plan’s tax category', () => {
    const inv = composeInvoice(base({ recurring: [planA()], surcharges: [fee({ code: 'PLAN:REGULATED:network-fee', description: 'Network access fee', amount: '1.50' })] }));
    expect(extra(inv)).toEqual([['ONE_OFF', 'Network access fee', 'TELECOM_STANDARD', '1.50', '0.28']]); // 0.285 → 0.28 (half-even)
    expect(inv.netTotal).toBe('31.49');
  });

  it('a percent is of what the customer is charged: after discounts, and not of another surcharge', () => {
    const loyalty: DiscountItem = { code: 'PLAN:REGULATED:loyalty', description: 'Loyalty', percent: '10', target: 'RECURRING', heldDuring: [{ from: LONG_AGO, to: null }], planCode: 'REGULATED' };
    const inv = composeInvoice(
      base({
        recurring: [planA()],
        usage: [usage('30.00')],
        discounts: [loyalty],
        surcharges: [fee({ code: 'PLAN:REGULATED:network-fee', description: 'Network access fee', amount: '1.50' }), fee({ percent: '2' })],
      }),
    );
    // 2 % × (29.99 − 2.999 + 30.00) = 1.13982 → 1.14: the 1.50 fee is not in the base.
    expect(extra(inv)).toEqual([
      ['DISCOUNT', 'Loyalty', 'TELECOM_STANDARD', '-3.00', '-0.57'],
      ['ONE_OFF', 'Network access fee', 'TELECOM_STANDARD', '1.50', '0.28'],
      ['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '1.14', '0.22'],
    ]);
    expect(addsUp(inv)).toBe(true);
  });

  it('one line per tax category of the charges it is computed on, each taxed at its own rate', () => {
    const inv = composeInvoice(
      base({ recurring: [planA()], oneOffs: [{ id: 'oof_1', code: 'BOOK', description: 'Printed bill', amount: '10.00', taxCategory: 'REDUCED' }], surcharges: [fee({ percent: '2' })] }),
    );
    expect(extra(inv)).toEqual([
      ['ONE_OFF', 'Regulatory fee 2%', 'REDUCED', '0.20', '0.01'], // 2 % × 10.00, 7 %
      ['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '0.60', '0.11'], // 2 % × 29.99 = 0.5998, 19 %
    ]);
    expect(inv.taxSummary.find((s) => s.taxCategory === 'REDUCED')).toMatchObject({ netAmount: '10.20', taxAmount: '0.71' });
    expect(addsUp(inv)).toBe(true);
  });

  it('only for the days the plan carrying it was held: a change on the 16th halves both', () => {
    const at = local(16, '12:00'); // the change day is the new plan's
    const inv = composeInvoice(
      base({
        recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })],
        usage: [usage('30.00')],
        surcharges: [fee({ percent: '2' }, [{ from: LONG_AGO, to: at }]), fee({ code: 'PLAN:REGULATED:network-fee', description: 'Network access fee', amount: '1.50' }, [{ from: LONG_AGO, to: at }])],
      }),
    );
    expect(extra(inv)).toEqual([
      ['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '0.60', '0.11'], // 2 % × (14.995 + 30.00 × 15/30) = 0.5999, not of plan B's 22.50
      ['ONE_OFF', 'Network access fee, 15/30 days', 'TELECOM_STANDARD', '0.75', '0.14'], // 1.50 × 15/30
    ]);
    expect(addsUp(inv)).toBe(true);
  });

  it('a plan held for none of the billed days adds nothing', () => {
    const at = local(1, '10:00'); // day 1 is wholly the new plan's
    const inv = composeInvoice(base({ recurring: [planB({ from: at })], surcharges: [fee({ percent: '2' }, [{ from: LONG_AGO, to: at }]), fee({ code: 'PLAN:REGULATED:network-fee', amount: '1.50' }, [{ from: LONG_AGO, to: at }])] }));
    expect(extra(inv)).toEqual([]);
    expect(inv.netTotal).toBe('45.00');
  });

  it('two lines on two plans: each plan\'s percent is of its own line\'s fee, its lines\' share of usage and its line\'s one-offs (review 8)', () => {
    const inv = composeInvoice(
      base({
        recurring: twoLines(),
        usage: [usage('20.00')],
        oneOffs: [
          { id: 'oof_1', code: 'BOOK', description: 'Printed bill', amount: '10.00', taxCategory: 'REDUCED', lineId: 'lin_2' },
          { id: 'oof_2', code: 'SIM', description: 'SIM swap', amount: '4.00', taxCategory: 'REDUCED' },
        ],
        surcharges: [fee({ percent: '2' }), feeB('3')],
      }),
    );
    expect(extra(inv)).toEqual([
      ['ONE_OFF', 'Regulatory fee 2%', 'REDUCED', '0.04', '0.00'], // 2 % × half the unlined 4.00
      ['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '0.80', '0.15'], // 2 % × (29.99 + 20.00 / 2) = 0.7998; not of P50's 45.00
      ['ONE_OFF', 'Regulatory fee 3%', 'REDUCED', '0.36', '0.03'], // 3 % × (10.00 of lin_2 + 2.00)
      ['ONE_OFF', 'Regulatory fee 3%', 'TELECOM_STANDARD', '1.65', '0.31'], // 3 % × (45.00 + 10.00)
    ]);
    expect(addsUp(inv)).toBe(true);
  });

  it('a line joining on the 16th: usage of the days before is the other plan\'s, of the days after shared by the lines', () => {
    const inv = composeInvoice(base({ recurring: twoLines(local(16, '12:00')), usage: [usage('30.00')], surcharges: [fee({ percent: '2' }), feeB('3', [{ from: local(16, '12:00'), to: null }])] }));
    expect(sum(inv, 'PLAN:REGULATED:regulatory-fee').toFixed(2)).toBe('1.05'); // 2 % × (29.99 + 15.00 + 15.00 / 2) = 1.0498
    expect(sum(inv, 'PLAN:P50:regulatory-fee').toFixed(2)).toBe('0.90'); // 3 % × (45.00 × 15/30 + 15.00 / 2)
  });

  it('the same rule on both plans is one surcharge of every charge, not one per plan', () => {
    const both = fee({ percent: '2', planVersionIds: ['plv_p50_v1', 'plv_reg_v1'] });
    const inv = composeInvoice(base({ recurring: twoLines(), usage: [usage('20.00')], surcharges: [both] }));
    expect(extra(inv)).toEqual([['ONE_OFF', 'Regulatory fee 2%', 'TELECOM_STANDARD', '1.90', '0.36']]); // 2 % × (29.99 + 45.00 + 20.00) = 1.8998
  });

  it('property: the same percent on each of two plans, two lines, adds up to that percent of every charge (a cent per line)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 10_000 }), fc.boolean(), (joinDay, percent, cents, lined) => {
        const at = new Date(period.start.getTime() + joinDay * 86_400_000 - 3_600_000);
        const amount = (cents / 100).toFixed(2);
        const inv = composeInvoice(
          base({
            recurring: twoLines(at),
            usage: [usage('12.345')],
            oneOffs: [{ id: 'oof_1', code: 'X', description: 'X', amount, taxCategory: 'TELECOM_STANDARD', lineId: lined ? 'lin_2' : null }],
            surcharges: [fee({ percent: String(percent) }), feeB(String(percent), [{ from: at, to: null }])],
          }),
        );
        const charges = inv.lines.filter((l) => !l.sourceRef?.startsWith('PLAN:')).reduce((n, l) => n.plus(l.netAmount), dec('0'));
        const surcharged = sum(inv, 'PLAN:REGULATED:regulatory-fee').plus(sum(inv, 'PLAN:P50:regulatory-fee'));
        expect(surcharged.minus(charges.times(percent).dividedBy(100)).abs().lte('0.02')).toBe(true);
        expect(addsUp(inv)).toBe(true);
      }),
    );
  });

  it('property: a percent surcharge is that percent of its days’ charges (a cent per line), a fixed one its days’ share; lines add up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 10_000 }), (changeDay, percent, cents) => {
        const at = new Date(period.start.getTime() + changeDay * 86_400_000 - 3_600_000);
        const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
        const held = [{ from: LONG_AGO, to: at }];
        const inv = composeInvoice(
          base({
            recurring: [planA({ to: at }), planB({ subscriptionId: 'sub_2', from: at })],
            usage: [usage('12.345')],
            surcharges: [fee({ percent: String(percent) }, held), fee({ code: 'PLAN:REGULATED:fixed', description: 'Fixed', amount }, held)],
          }),
        );
        const heldDays = Math.max(0, Math.min(30, changeDay - 1));
        const charged = dec('29.99').plus('12.345').times(heldDays).dividedBy(30);
        const pct = inv.lines.filter((l) => l.sourceRef === 'PLAN:REGULATED:regulatory-fee').reduce((n, l) => n.plus(l.netAmount), dec('0'));
        const fixed = inv.lines.filter((l) => l.sourceRef === 'PLAN:REGULATED:fixed').reduce((n, l) => n.plus(l.netAmount), dec('0'));
        expect(pct.minus(charged.times(percent).dividedBy(100)).abs().lte('0.005')).toBe(true);
        expect(fixed.minus(dec(amount).times(heldDays).dividedBy(30)).abs().lte('0.005')).toBe(true);
        expect(addsUp(inv)).toBe(true);
      }),
    );
  });
});
