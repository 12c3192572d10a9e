// What a discount's base is when the invoice also carries credits (review: "a percent discount
// ignores negative one-offs (in the customer's favour; may be intended)"). It is intended, and these
// tests pin it. The rule (compose.ts, README "Discounts", catalog/README.md "Discount scopes"):
//  * a discount takes off the CHARGES it targets: RECURRING the recurring fees (a plan rule: its
//    own plan's), USAGE the usage lines (incl. late-usage ADJUSTMENT lines), INVOICE every charge
//    (fees, usage, one-off charges);
//  * a credit (a one-off with a negative amount: goodwill, a refund of a fee; a late-usage or re-rate
//    ADJUSTMENT that is negative) is not a charge: it is in no discount's base, so it is given in
//    full, never "discounted" (10 % of a -5.00 credit would take 0.50 of the credit back);
//  * a discount is capped at what is left of its charges, so it never makes the invoice go below
//    zero by itself: the invoice is negative at most by its credits.
// Example (plan 20.00, 10 % off, -5.00 goodwill credit): 20.00 − 2.00 − 5.00 = 13.00 net, not
// 20.00 − 5.00 − 1.50 (10 % of the 15.00 left after the credit) = 13.50.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type DiscountItem, type OneOffItem, type UsageItem } from './compose';
import { periodEndingOn } from './period';

const period = periodEndingOn('2026-10-01', 1, 'Europe/Berlin'); // 1 Sep – 1 Oct local: 30 days
const input = (over: Partial<ComposeInput> = {}): ComposeInput => ({
  currency: 'EUR',
  jurisdiction: 'DE',
  roundingMode: 'HALF_EVEN',
  timeZone: 'Europe/Berlin',
  period,
  recurring: [
    { subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'P20', planVersionId: 'plv_p20', planName: 'Plan 20', fee: '20.00', feePeriod: 'MONTH', proration: 'DAILY', taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false },
  ],
  usage: [],
  oneOffs: [],
  discounts: [],
  taxRules: [{ jurisdiction: 'DE', category: 'TELECOM_STANDARD', rate: '0.19', inclusive: false, name: 'USt' }],
  ...over,
});
const goodwill = (amount = '-5.00', id = 'oo_goodwill'): OneOffItem => ({ id, code: 'GOODWILL', description: 'Goodwill credit', amount, taxCategory: 'TELECOM_STANDARD' });
const percent = (p: string, target: DiscountItem['target']): DiscountItem => ({ code: `P${p}_${target}`, description: `${p}% off`, percent: p, target });
const rows = (inv: ReturnType<typeof composeInvoice>) => inv.lines.map((l) => [l.kind, l.netAmount, l.taxAmount, l.grossAmount]);

describe('a discount takes off the charges it targets, never a credit', () => {
  it('plan 20.00, 10 % off the invoice, a -5.00 goodwill credit: 2.00 off (10 % of the 20.00 charged), total 13.00 net', () => {
    const inv = composeInvoice(input({ oneOffs: [goodwill()], discounts: [percent('10', 'INVOICE')] }));
    expect(rows(inv)).toEqual([
      ['RECURRING', '20.00', '3.80', '23.80'],
      ['ONE_OFF', '-5.00', '-0.95', '-5.95'], // the credit in full
      ['DISCOUNT', '-2.00', '-0.38', '-2.38'], // 10 % of 20.00, not of 15.00 (1.50)
    ]);
    expect(inv).toMatchObject({ netTotal: '13.00', taxTotal: '2.47', grossTotal: '15.47' });
  });

  it('the same with 10 % off the recurring fee (a coupon or a plan rule): 13.00 net', () => {
    const coupon = composeInvoice(input({ oneOffs: [goodwill()], discounts: [percent('10', 'RECURRING')] }));
    const rule = composeInvoice(input({ oneOffs: [goodwill()], discounts: [{ ...percent('10', 'RECURRING'), code: 'PLAN:P20:loyalty', planCode: 'P20', planVersionIds: ['plv_p20'], heldDuring: [{ from: new Date('2026-01-01T00:00:00Z'), to: null }] }] }));
    for (const inv of [coupon, rule]) {
      expect(inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => l.netAmount)).toEqual(['-2.00']);
      expect(inv).toMatchObject({ netTotal: '13.00', grossTotal: '15.47' });
    }
  });

  it('a one-off charge is discounted by INVOICE, its refund (a negative one-off) is given back in full', () => {
    // Activation 10.00 and a -10.00 credit that names no charge (`refunds` unset: a credit like any):
    // 10 % of 20.00 + 10.00 = 3.00. A credit naming the charge it refunds (`refunds: 'oo_act'`) takes
    // it out of the base instead: 2.00 (discount-tax-rounding.test.ts), as a fee waived before billing
    // (`waiveOneOffCharge`) is not on the invoice and not in the base either.
    const inv = composeInvoice(
      input({
        oneOffs: [
          { id: 'oo_act', code: 'ACTIVATION', description: 'Activation', amount: '10.00', taxCategory: 'TELECOM_STANDARD' },
          { id: 'oo_refund', code: 'REFUND', description: 'Activation refunded', amount: '-10.00', taxCategory: 'TELECOM_STANDARD' },
        ],
        discounts: [percent('10', 'INVOICE')],
      }),
    );
    expect(rows(inv)).toEqual([
      ['RECURRING', '20.00', '3.80', '23.80'],
      ['ONE_OFF', '10.00', '1.90', '11.90'],
      ['ONE_OFF', '-10.00', '-1.90', '-11.90'],
      ['DISCOUNT', '-3.00', '-0.57', '-3.57'],
    ]);
    expect(inv).toMatchObject({ netTotal: '17.00', grossTotal: '20.23' });
  });

  it('10 % off usage takes 10 % of the usage charged, not of a negative late-usage adjustment', () => {
    const usage: UsageItem[] = [
      { usageType: 'DATA', zone: null, unit: 'MB', quantity: '1000', amount: '10.00', count: 4, taxCategory: 'TELECOM_STANDARD' },
      {
        usageType: 'DATA', zone: null, unit: 'MB', quantity: '-400', amount: '-4.00', count: 1, taxCategory: 'TELECOM_STANDARD',
        adjusts: { invoiceId: 'inv_aug', invoiceNumber: 'INV-00000001', periodStart: new Date('2026-07-31T22:00:00Z'), periodEnd: new Date('2026-08-31T22:00:00Z') },
      },
    ];
    const inv = composeInvoice(input({ usage, oneOffs: [goodwill()], discounts: [percent('10', 'USAGE')] }));
    expect(rows(inv)).toEqual([
      ['RECURRING', '20.00', '3.80', '23.80'],
      ['USAGE', '10.00', '1.90', '11.90'],
      ['ADJUSTMENT', '-4.00', '-0.76', '-4.76'],
      ['ONE_OFF', '-5.00', '-0.95', '-5.95'],
      ['DISCOUNT', '-1.00', '-0.19', '-1.19'], // 10 % of 10.00
    ]);
    expect(inv).toMatchObject({ netTotal: '20.00', grossTotal: '23.80' });
  });

  it('100 % off the invoice leaves exactly the credit: -5.00 net, never more negative', () => {
    const inv = composeInvoice(input({ oneOffs: [goodwill()], discounts: [percent('100', 'INVOICE')] }));
    expect(rows(inv)).toEqual([
      ['RECURRING', '20.00', '3.80', '23.80'],
      ['ONE_OFF', '-5.00', '-0.95', '-5.95'],
      ['DISCOUNT', '-20.00', '-3.80', '-23.80'],
    ]);
    expect(inv).toMatchObject({ netTotal: '-5.00', grossTotal: '-5.95' });
  });

  it('an amount off the invoice above the charges is capped at them (20.00 of a 30.00 coupon): -5.00 net, the credit', () => {
    const inv = composeInvoice(input({ oneOffs: [goodwill()], discounts: [{ code: 'BIG30', description: '30.00 off', amount: '30.00', target: 'INVOICE' }] }));
    expect(inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => l.netAmount)).toEqual(['-20.00']);
    expect(inv).toMatchObject({ netTotal: '-5.00', grossTotal: '-5.95' });
  });

  it('an invoice with only a credit gets no discount line', () => {
    const inv = composeInvoice(input({ recurring: [], oneOffs: [goodwill()], discounts: [percent('10', 'INVOICE'), { code: 'A5', description: '5.00 off', amount: '5.00', target: 'INVOICE' }] }));
    expect(rows(inv)).toEqual([['ONE_OFF', '-5.00', '-0.95', '-5.95']]);
  });

  it('property: discounts take nothing off credits and never push the net total below the credits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: -100_000, max: 100_000 }).filter((n) => n !== 0), { maxLength: 4 }),
        fc.array(fc.record({ target: fc.constantFrom<'RECURRING' | 'USAGE' | 'INVOICE'>('RECURRING', 'USAGE', 'INVOICE'), percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }), amount: fc.integer({ min: 1, max: 100_000 }) }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 100_000 }),
        (usageCents, oneOffCents, ds, feeCents) => {
          const cents = (n: number) => `${n < 0 ? '-' : ''}${Math.floor(Math.abs(n) / 100)}.${String(Math.abs(n) % 100).padStart(2, '0')}`;
          const inv = composeInvoice(
            input({
              recurring: feeCents === 0 ? [] : [{ ...input().recurring[0]!, fee: cents(feeCents) }],
              usage: usageCents.map((n, i) => ({ usageType: 'DATA', zone: `Z${i}`, unit: 'MB', quantity: '1', amount: cents(n), count: 1, taxCategory: 'TELECOM_STANDARD' })),
              oneOffs: oneOffCents.map((n, i) => ({ id: `oo_${i}`, code: 'X', description: 'x', amount: cents(n), taxCategory: 'TELECOM_STANDARD' })),
              discounts: ds.map((d, i) => ({ code: `D${i}`, description: `D${i}`, target: d.target, ...(d.percent != null ? { percent: String(d.percent) } : { amount: cents(d.amount) }) })),
            }),
          );
          const net = (kind: string, sign: number) => inv.lines.filter((l) => l.kind === kind && dec(l.netAmount).comparedTo('0') === sign).reduce((n, l) => n.plus(l.netAmount), dec('0'));
          const credits = net('ONE_OFF', -1);
          const charged = net('RECURRING', 1).plus(net('USAGE', 1)).plus(net('ONE_OFF', 1));
          const off = net('DISCOUNT', -1).negated();
          // Credits are on the invoice as given; discounts are at most the charges (so at most 100 %).
          expect(credits.eq(oneOffCents.filter((n) => n < 0).reduce((n, c) => n.plus(cents(c)), dec('0')))).toBe(true);
          expect(off.lte(charged)).toBe(true);
          expect(dec(inv.netTotal).gte(credits)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
