// A discount's tax (2027-01). Tax is rounded per line (compose.ts, documented rule), so a discount
// line taxed on its own (round(discount × rate)) could take a cent more or less tax than the lines it
// discounts carry: three 0.07 usage lines at 21 % carry 0.01 tax each (0.03), their 100 % discount
// −0.21 was taxed −0.04, and the invoice ended at 0.00 net, −0.01 tax, −0.01 gross. The rule now:
//  * a discount's tax is what the tax of the lines it reduces goes down by: each discounted line is
//    taxed again (same per-line rule) on what is left of it, and the discount line carries the
//    difference (for a tax-inclusive rule its net likewise, its gross being the discount);
//  * a discount that takes all that is left of a line takes that line's shown amount whole, so a
//    100 % discount leaves exactly 0.00 net, tax and gross of the lines it covers, whatever their
//    sub-cent amounts (three usage lines of 0.335 each show 0.34: 1.02, not the 1.00 of 1.005
//    rounded once);
//  * the invoice's tax summary and totals are the sums of the lines as shown (unchanged).
// And a refund of a one-off charge (`refunds`, the charge's id) on the same invoice takes that charge
// out of the discount base: a discount is not taken on money the customer no longer pays.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec, type RoundingMode } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type DiscountItem, type OneOffItem, type UsageItem } from './compose';
import { periodEndingOn } from './period';

const period = periodEndingOn('2026-10-01', 1, 'Europe/Amsterdam'); // 1 Sep – 1 Oct local: 30 days
const RULES = [
  { jurisdiction: 'NL', category: 'TELECOM_STANDARD', rate: '0.21', inclusive: false, name: 'BTW' },
  { jurisdiction: 'GB', category: 'TELECOM_STANDARD', rate: '0.21', inclusive: true, name: 'VAT incl.' },
  { jurisdiction: 'JP', category: 'TELECOM_STANDARD', rate: '0.10', inclusive: false, name: 'Consumption tax' },
  { jurisdiction: 'BH', category: 'TELECOM_STANDARD', rate: '0.10', inclusive: false, name: 'VAT' },
  { jurisdiction: 'DE', category: 'TELECOM_STANDARD', rate: '0.19', inclusive: false, name: 'USt' },
];
const input = (over: Partial<ComposeInput> = {}): ComposeInput => ({
  currency: 'EUR',
  jurisdiction: 'NL',
  roundingMode: 'HALF_EVEN',
  timeZone: 'Europe/Amsterdam',
  period,
  recurring: [],
  usage: [],
  oneOffs: [],
  discounts: [],
  taxRules: RULES,
  ...over,
});
/** `n` usage lines (one per zone) of `amount` each. */
const usage = (amount: string, n = 3): UsageItem[] =>
  Array.from({ length: n }, (_, i) => ({ usageType: 'DATA', zone: `Z${i + 1}`, unit: 'MB', quantity: '1', amount, count: 1, taxCategory: 'TELECOM_STANDARD' }));
const off = (percent: string, target: DiscountItem['target'] = 'USAGE'): DiscountItem => ({ code: `P${percent}`, description: `${percent}% off`, percent, target });
const discountRows = (inv: ReturnType<typeof composeInvoice>) => inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => [l.netAmount, l.taxAmount, l.grossAmount]);
const totals = (inv: ReturnType<typeof composeInvoice>) => [inv.netTotal, inv.taxTotal, inv.grossTotal];
const sum = (xs: string[]) => xs.reduce((n, x) => n.plus(x), dec('0'));

describe('a discount takes off the tax its lines lose, never a cent more or less', () => {
  it('three 0.07 lines at 21 % (0.01 tax each) and 100 % off: −0.21 net, −0.03 tax; the invoice is 0.00 (was −0.01 gross)', () => {
    const inv = composeInvoice(input({ usage: usage('0.07'), discounts: [off('100')] }));
    expect(inv.lines.filter((l) => l.kind === 'USAGE').map((l) => l.taxAmount)).toEqual(['0.01', '0.01', '0.01']);
    expect(discountRows(inv)).toEqual([['-0.21', '-0.03', '-0.24']]); // round(−0.21 × 0.21 = −0.0441) would be −0.04
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
    expect(inv.taxSummary).toEqual([{ taxCategory: 'TELECOM_STANDARD', taxRate: '0.21', taxInclusive: false, netAmount: '0.00', taxAmount: '0.00' }]);
  });

  it('three 0.08 lines at 21 % (0.02 tax each) and 100 % off: −0.06 tax (was −0.05: 0.01 tax left on a 0.00 net)', () => {
    const inv = composeInvoice(input({ usage: usage('0.08'), discounts: [off('100')] }));
    expect(discountRows(inv)).toEqual([['-0.24', '-0.06', '-0.30']]);
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
  });

  it('100 % off lines of sub-cent usage takes what they show (3 × 0.34 = 1.02), not 1.005 rounded once (1.00, 0.02 left)', () => {
    const inv = composeInvoice(input({ usage: usage('0.335'), discounts: [off('100')] }));
    expect(inv.lines.filter((l) => l.kind === 'USAGE').map((l) => [l.netAmount, l.taxAmount])).toEqual([['0.34', '0.07'], ['0.34', '0.07'], ['0.34', '0.07']]);
    expect(discountRows(inv)).toEqual([['-1.02', '-0.21', '-1.23']]);
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
  });

  it('a partial discount: 50 % of three 0.07 lines is −0.10, and its tax is what the lines left (0.03, 0.04, 0.04) lose: 0.00', () => {
    // The −0.10 comes off the lines pro rata in whole cents (0.04, 0.03, 0.03); taxed per line, 0.03, 0.04
    // and 0.04 carry 0.01 each, as much as before: the lines lose no tax, so the discount carries none
    // (round(−0.10 × 0.21) = −0.02 would leave 0.01 tax on 0.11 net less than the lines show).
    const inv = composeInvoice(input({ usage: usage('0.07'), discounts: [off('50')] }));
    expect(discountRows(inv)).toEqual([['-0.10', '0.00', '-0.10']]);
    expect(totals(inv)).toEqual(['0.11', '0.03', '0.14']);
  });

  it('stacked: 60 % then 100 % of what is left of three 0.07 lines ends at exactly 0.00', () => {
    const inv = composeInvoice(input({ usage: usage('0.07'), discounts: [off('60'), { ...off('100'), code: 'ALL' }] }));
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
    expect(sum(discountRows(inv).map((r) => r[1]!)).toFixed(2)).toBe('-0.03');
  });

  it('a fixed amount keeps its amount (0.10 off three 0.07 lines: −0.10 net), its tax what the lines lose', () => {
    const inv = composeInvoice(input({ usage: usage('0.07'), discounts: [{ code: 'C10', description: '0.10 off', amount: '0.10', target: 'USAGE' }] }));
    expect(discountRows(inv)).toEqual([['-0.10', '0.00', '-0.10']]);
    const all = composeInvoice(input({ usage: usage('0.07'), discounts: [{ code: 'C99', description: '9.99 off', amount: '9.99', target: 'USAGE' }] }));
    expect(totals(all)).toEqual(['0.00', '0.00', '0.00']); // capped at the lines: all of their tax too
  });

  it('tax-inclusive lines: 100 % off three 0.07 gross lines (0.06 net + 0.01 tax each) gives back 0.18 net and 0.03 tax', () => {
    // round(−0.21 / 1.21 = −0.1736) = −0.17 net, −0.04 tax would leave the invoice at 0.01 net, −0.01 tax.
    const inv = composeInvoice(input({ jurisdiction: 'GB', currency: 'GBP', usage: usage('0.07'), discounts: [off('100')] }));
    expect(inv.lines.filter((l) => l.kind === 'USAGE').map((l) => [l.netAmount, l.taxAmount, l.grossAmount])[0]).toEqual(['0.06', '0.01', '0.07']);
    expect(discountRows(inv)).toEqual([['-0.18', '-0.03', '-0.21']]);
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
  });

  it('JPY (no minor unit): three 5 JPY lines at 10 % carry 0 tax each; 100 % off gives back 0, not 2 (was −2 JPY)', () => {
    const inv = composeInvoice(input({ jurisdiction: 'JP', currency: 'JPY', usage: usage('5'), discounts: [off('100')] }));
    expect(discountRows(inv)).toEqual([['-15', '0', '-15']]);
    expect(totals(inv)).toEqual(['0', '0', '0']);
  });

  it('BHD (three decimals): three 0.005 lines at 10 % carry 0.000 tax each; 100 % off gives back 0.000, not 0.002', () => {
    const inv = composeInvoice(input({ jurisdiction: 'BH', currency: 'BHD', usage: usage('0.005'), discounts: [off('100')] }));
    expect(discountRows(inv)).toEqual([['-0.015', '0.000', '-0.015']]);
    expect(totals(inv)).toEqual(['0.000', '0.000', '0.000']);
  });

  it('two 0.02 usage lines at 19 % (the case STATUS listed as left open): 0.00 net, 0.00 gross', () => {
    const inv = composeInvoice(input({ jurisdiction: 'DE', usage: usage('0.02', 2), discounts: [off('100')] }));
    expect(discountRows(inv)).toEqual([['-0.04', '0.00', '-0.04']]);
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
  });

  it('property: 100 % off the invoice zeroes every charge whatever the amounts, modes and rate; partial discounts never take more tax than the charges carry', () => {
    const modes: RoundingMode[] = ['HALF_EVEN', 'HALF_UP', 'UP', 'DOWN', 'CEILING', 'FLOOR'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 5_000 }), { maxLength: 3 }),
        fc.constantFrom('NL', 'GB', 'DE'),
        fc.constantFrom(...modes),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 100 }).map((p) => ({ percent: String(p) })), fc.integer({ min: 1, max: 5_000 }).map((a) => ({ amount: dec(String(a)).dividedBy(100).toFixed(2) }))), { maxLength: 3 }),
        fc.boolean(),
        (usageMills, oneOffCents, jurisdiction, roundingMode, ds, whole) => {
          const discounts: DiscountItem[] = ds.map((d, i) => ({ code: `D${i}`, description: `D${i}`, target: i % 2 ? 'USAGE' : 'INVOICE', ...d }));
          if (whole) discounts.push({ code: 'ALL', description: '100 % off', percent: '100', target: 'INVOICE' });
          const inv = composeInvoice(
            input({
              jurisdiction,
              roundingMode,
              usage: usageMills.map((m, i) => ({ usageType: 'DATA', zone: `Z${i}`, unit: 'MB', quantity: '1', amount: dec(String(m)).dividedBy(1000).toFixed(), count: 1, taxCategory: 'TELECOM_STANDARD' })),
              oneOffs: oneOffCents.map((c, i): OneOffItem => ({ id: `oo_${i}`, code: 'FEE', description: 'fee', amount: dec(String(c)).dividedBy(100).toFixed(2), taxCategory: 'TELECOM_STANDARD' })),
              discounts,
            }),
          );
          // Lines add up to the totals and the tax summary, as shown.
          expect(sum(inv.lines.map((l) => l.netAmount)).eq(inv.netTotal)).toBe(true);
          expect(sum(inv.lines.map((l) => l.taxAmount)).eq(inv.taxTotal)).toBe(true);
          expect(sum(inv.taxSummary.map((s) => s.taxAmount)).eq(inv.taxTotal)).toBe(true);
          for (const l of inv.lines) expect(dec(l.netAmount).plus(l.taxAmount).eq(l.grossAmount)).toBe(true);
          // Never a cent past the charges: no negative net, tax or gross (no credits here).
          for (const t of totals(inv)) expect(dec(t).gte(0)).toBe(true);
          if (whole) expect(totals(inv).every((t) => dec(t).isZero())).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('a refund of a one-off charge on the same invoice takes that charge out of the discount base', () => {
  const plan = { subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'P20', planVersionId: 'plv_p20', planName: 'Plan 20', fee: '20.00', feePeriod: 'MONTH' as const, proration: 'DAILY' as const, taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false };
  const activation: OneOffItem = { id: 'oo_act', code: 'ACTIVATION', description: 'Activation', amount: '10.00', taxCategory: 'TELECOM_STANDARD' };
  const refund = (amount = '-10.00', refunds: string | null = 'oo_act'): OneOffItem => ({ id: 'oo_refund', code: 'REFUND', description: 'Activation refunded', amount, taxCategory: 'TELECOM_STANDARD', refunds });
  const de = (over: Partial<ComposeInput>) => input({ jurisdiction: 'DE', recurring: [plan], ...over });

  it('activation 10.00 refunded in full, 10 % off the invoice: 2.00 off (the plan), 18.00 net — as if the fee had been waived', () => {
    const inv = composeInvoice(de({ oneOffs: [activation, refund()], discounts: [off('10', 'INVOICE')] }));
    expect(inv.lines.map((l) => [l.kind, l.netAmount, l.taxAmount, l.grossAmount])).toEqual([
      ['RECURRING', '20.00', '3.80', '23.80'],
      ['ONE_OFF', '10.00', '1.90', '11.90'],
      ['ONE_OFF', '-10.00', '-1.90', '-11.90'], // the refund in full
      ['DISCOUNT', '-2.00', '-0.38', '-2.38'], // 10 % of 20.00 (was 3.00: 10 % of 30.00)
    ]);
    expect(totals(inv)).toEqual(['18.00', '3.42', '21.42']);
    const waived = composeInvoice(de({ discounts: [off('10', 'INVOICE')] }));
    expect(totals(waived)).toEqual(totals(inv));
  });

  it('100 % off the invoice leaves 0.00, not a 10.00 credit for a fee the customer never paid', () => {
    const inv = composeInvoice(de({ oneOffs: [activation, refund()], discounts: [off('100', 'INVOICE')] }));
    expect(discountRows(inv)).toEqual([['-20.00', '-3.80', '-23.80']]);
    expect(totals(inv)).toEqual(['0.00', '0.00', '0.00']);
  });

  it('a partial refund (4.00 of 10.00) leaves 6.00 of the fee in the base: 10 % of 26.00', () => {
    const inv = composeInvoice(de({ oneOffs: [activation, refund('-4.00')], discounts: [off('10', 'INVOICE')] }));
    expect(discountRows(inv)).toEqual([['-2.60', '-0.49', '-3.09']]);
  });

  it('a credit that refunds nothing named (goodwill), or a charge not on this invoice, is given in full and leaves the base alone', () => {
    for (const r of [refund('-10.00', null), refund('-10.00', 'oo_billed_in_august')]) {
      const inv = composeInvoice(de({ oneOffs: [activation, r], discounts: [off('10', 'INVOICE')] }));
      expect(discountRows(inv)).toEqual([['-3.00', '-0.57', '-3.57']]);
    }
  });
});
