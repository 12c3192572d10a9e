import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec, minorUnits, type RoundingMode } from '@ledgerline/contracts';
import { composeInvoice, taxLine, type ComposeInput, type RecurringItem } from './compose';
import { periodEndingOn } from './period';

const RULES = [
  { jurisdiction: 'DE', category: 'TELECOM_STANDARD', rate: '0.19', inclusive: false, name: 'USt' },
  { jurisdiction: 'GB', category: 'TELECOM_STANDARD', rate: '0.2', inclusive: true, name: 'VAT incl.' },
  { jurisdiction: 'DE', category: 'REDUCED', rate: '0.07', inclusive: false, name: 'USt 7%' },
];
const period = periodEndingOn('2026-10-01', 1, 'Europe/Berlin'); // 1 Sep – 1 Oct: 30 days
const plan = (over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'POSTPAID_20GB', planName: 'Postpaid 20 GB', fee: '29.99', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false, ...over,
});
const base = (over: Partial<ComposeInput> = {}): ComposeInput => ({ currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: 'Europe/Berlin', period, recurring: [], usage: [], oneOffs: [], discounts: [], taxRules: RULES, ...over });

describe('composeInvoice', () => {
  it('bills a full month fee with exclusive 19% tax', () => {
    const inv = composeInvoice(base({ recurring: [plan()] }));
    expect(inv.lines).toHaveLength(1);
    expect(inv.lines[0]).toMatchObject({ kind: 'RECURRING', netAmount: '29.99', taxAmount: '5.70', grossAmount: '35.69' });
    expect(inv.grossTotal).toBe('35.69');
  });

  it('prorates a mid-cycle plan change by days', () => {
    const change = new Date('2026-09-15T22:00:00Z'); // 16 Sep 00:00 Berlin
    const inv = composeInvoice(base({ recurring: [plan({ to: change }), plan({ planCode: 'POSTPAID_50GB', planName: 'Postpaid 50 GB', fee: '45.00', from: change })] }));
    const [old, neu] = inv.lines;
    expect(old!.netAmount).toBe('15.00'); // 29.99 × 15/30 = 14.995 → half-even 15.00
    expect(neu!.netAmount).toBe('22.50'); // 45 × 15/30
    expect(old!.description).toContain('15/30 days');
  });

  it('charges a shared (family) plan once per account, not per line', () => {
    const family = (i: number) => plan({ subscriptionId: `sub_${i}`, lineId: `lin_${i}`, planCode: 'FAMILY', planName: 'Family Share', fee: '59.99', shared: true });
    const inv = composeInvoice(base({ recurring: [family(1), family(2), family(3)] }));
    expect(inv.lines.filter((l) => l.kind === 'RECURRING')).toHaveLength(1);
    expect(inv.netTotal).toBe('59.99');
  });

  it('groups usage by type and zone and applies a percent discount to recurring fees', () => {
    const inv = composeInvoice(
      base({
        recurring: [plan({ fee: '30.00' })],
        usage: [
          { usageType: 'DATA', zone: 'ROAMING_WORLD', unit: 'MB', quantity: '512', amount: '10.2400', count: 3, taxCategory: 'TELECOM_STANDARD' },
          { usageType: 'VOICE', zone: 'INTERNATIONAL', unit: 'SECOND', quantity: '600', amount: '1.995', count: 2, taxCategory: 'TELECOM_STANDARD' },
        ],
        discounts: [{ code: 'WELCOME10', description: 'Welcome 10%', percent: '10' }],
      }),
    );
    expect(inv.lines.map((l) => [l.kind, l.usageType, l.zone, l.netAmount])).toEqual([
      ['RECURRING', null, null, '30.00'],
      ['USAGE', 'DATA', 'ROAMING_WORLD', '10.24'],
      ['USAGE', 'VOICE', 'INTERNATIONAL', '2.00'],
      ['DISCOUNT', null, null, '-3.00'],
    ]);
    expect(inv.netTotal).toBe('39.24');
  });

  it('discounts usage or the whole invoice, by percent or amount, before tax and capped at the target', () => {
    const usage = [
      { usageType: 'DATA', zone: 'ROAMING_EU', unit: 'MB', quantity: '100', amount: '10.005', count: 2, taxCategory: 'TELECOM_STANDARD' },
      { usageType: 'SMS', zone: null, unit: 'EVENT', quantity: '10', amount: '1.00', count: 10, taxCategory: 'REDUCED' },
    ];
    const inv = composeInvoice(
      base({
        recurring: [plan({ fee: '30.00' })],
        usage,
        discounts: [
          { code: 'ROAM20', description: '20% off usage', percent: '20', target: 'USAGE' },
          { code: 'LOYAL5', description: '5.00 off the invoice', amount: '5.00', target: 'INVOICE' },
          { code: 'HUGE', description: 'Capped at usage', amount: '1000', target: 'USAGE' },
        ],
      }),
    );
    const discounts = inv.lines.filter((l) => l.kind === 'DISCOUNT').map((l) => [l.sourceRef, l.taxCategory, l.netAmount]);
    // Percents first, then amounts (targeted before invoice-wide), each from what the earlier ones left.
    expect(discounts).toEqual([
      // 20% of usage: 2.001 on standard (→ 2.00), 0.20 on reduced.
      ['ROAM20', 'REDUCED', '-0.20'],
      ['ROAM20', 'TELECOM_STANDARD', '-2.00'],
      // An amount above the usage takes off exactly what is left of it: 8.004 standard, 0.80 reduced.
      ['HUGE', 'REDUCED', '-0.80'],
      ['HUGE', 'TELECOM_STANDARD', '-8.00'],
      // Only the 30.00 fee is left to discount: 5.00 off it, none off the (fully discounted) usage.
      ['LOYAL5', 'TELECOM_STANDARD', '-5.00'],
    ]);
    // Tax is computed on the discounted lines like on any other (7% of -0.20 = -0.01).
    expect(inv.lines.find((l) => l.sourceRef === 'ROAM20' && l.taxCategory === 'REDUCED')!.taxAmount).toBe('-0.01');
    expect(dec(inv.netTotal).eq(dec('30').plus('10.00').plus('1').minus('0.20').minus('2.00').minus('0.80').minus('8.00').minus('5.00'))).toBe(true);
  });

  it('puts late usage of a billed period on an adjustment line naming that period and invoice', () => {
    const inv = composeInvoice(
      base({
        usage: [
          { usageType: 'DATA', zone: null, unit: 'MB', quantity: '10', amount: '1.00', count: 1, taxCategory: 'TELECOM_STANDARD' },
          {
            usageType: 'DATA', zone: null, unit: 'MB', quantity: '5', amount: '0.50', count: 1, taxCategory: 'TELECOM_STANDARD',
            adjusts: { invoiceId: 'inv_1', invoiceNumber: 'INV-00000007', periodStart: new Date('2026-07-31T22:00:00Z'), periodEnd: new Date('2026-08-31T22:00:00Z') },
          },
        ],
      }),
    );
    expect(inv.lines.map((l) => [l.kind, l.description, l.netAmount])).toEqual([
      ['USAGE', 'DATA (1 record)', '1.00'],
      ['ADJUSTMENT', 'Late usage for 2026-08-01–2026-08-31, invoice INV-00000007: DATA (1 record)', '0.50'],
    ]);
  });

  it('extracts inclusive tax from the gross amount', () => {
    const inv = composeInvoice(base({ currency: 'GBP', jurisdiction: 'GB', recurring: [plan({ fee: '12.00' })] }));
    expect(inv.lines[0]).toMatchObject({ grossAmount: '12.00', netAmount: '10.00', taxAmount: '2.00', taxInclusive: true });
  });

  it('rounds per line with the named mode', () => {
    expect(taxLine('0.125', { rate: '0', inclusive: false }, 2, 'HALF_EVEN').net).toBe('0.12');
    expect(taxLine('0.125', { rate: '0', inclusive: false }, 2, 'HALF_UP').net).toBe('0.13');
  });
});

const amountArb = fc.integer({ min: -500_000, max: 5_000_000 }).chain((n) => fc.integer({ min: 0, max: 9999 }).map((f) => `${n < 0 ? '-' : ''}${Math.abs(n)}.${String(f).padStart(4, '0')}`));
const modeArb = fc.constantFrom<RoundingMode>('HALF_EVEN', 'HALF_UP', 'DOWN', 'CEILING');

describe('rounding properties', () => {
  it('lines always sum exactly to the totals, and net + tax = gross per line', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('EUR', 'GBP', 'JPY', 'KWD'),
        modeArb,
        fc.array(fc.record({ amount: amountArb, cat: fc.constantFrom('TELECOM_STANDARD', 'REDUCED', 'UNKNOWN'), type: fc.constantFrom('DATA', 'VOICE', 'SMS') }), { maxLength: 12 }),
        fc.array(fc.record({ fee: fc.integer({ min: 0, max: 100_000 }), days: fc.integer({ min: 1, max: 30 }) }), { maxLength: 4 }),
        fc.array(
          fc.record({
            target: fc.constantFrom<'RECURRING' | 'USAGE' | 'INVOICE'>('RECURRING', 'USAGE', 'INVOICE'),
            percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
            amount: fc.integer({ min: 1, max: 100_000 }).map((n) => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`),
          }),
          { maxLength: 3 },
        ),
        (currency, mode, items, fees, discounts) => {
          const jurisdiction = currency === 'GBP' ? 'GB' : 'DE';
          const inv = composeInvoice(
            base({
              currency,
              jurisdiction,
              roundingMode: mode,
              usage: items.map((it, i) => ({ usageType: it.type, zone: `Z${i}`, unit: 'MB', quantity: '1', amount: it.amount, count: 1, taxCategory: it.cat })),
              recurring: fees.map((f, i) => plan({ subscriptionId: `s${i}`, fee: `${f.fee}.99`, to: new Date(period.start.getTime() + f.days * 86_400_000) })),
              oneOffs: [{ id: 'o1', code: 'GOODWILL', description: 'Goodwill', amount: '-5', taxCategory: 'TELECOM_STANDARD' }],
              discounts: discounts.map((d, i) => ({ code: `D${i}`, description: `Discount ${i}`, target: d.target, ...(d.percent != null ? { percent: String(d.percent) } : { amount: d.amount }) })),
            }),
          );
          const scale = minorUnits(currency);
          const sum = (k: 'netAmount' | 'taxAmount' | 'grossAmount') => inv.lines.reduce((a, l) => a.plus(l[k]), dec('0')).toFixed(scale);
          expect(sum('netAmount')).toBe(inv.netTotal);
          expect(sum('taxAmount')).toBe(inv.taxTotal);
          expect(sum('grossAmount')).toBe(inv.grossTotal);
          const unit = dec('1').dividedBy(dec('10').pow(scale));
          const exactTax = (l: { taxInclusive: boolean; taxRate: string; netAmount: string; grossAmount: string }) =>
            l.taxInclusive ? dec(l.grossAmount).minus(dec(l.grossAmount).dividedBy(dec(l.taxRate).plus(1))) : dec(l.netAmount).times(l.taxRate);
          for (const l of inv.lines) {
            expect(dec(l.netAmount).plus(l.taxAmount).eq(l.grossAmount)).toBe(true);
            expect(dec(l.grossAmount).decimalPlaces()).toBeLessThanOrEqual(scale);
            // Tax as documented: within half a minor unit (one for directed modes) of rate × base. A
            // discount line carries the tax its lines lose (each taxed again on what is left of it), checked below.
            if (l.kind !== 'DISCOUNT') expect(dec(l.taxAmount).minus(exactTax(l)).abs().lte(unit.times(mode.startsWith('HALF') ? 1 : 2))).toBe(true);
          }
          // Per tax category, charges and discounts together carry the per-line tax of what is left of
          // each line: within half a minor unit (one for directed modes) per charge line of rate × base.
          for (const cat of new Set(inv.lines.map((l) => l.taxCategory))) {
            const ls = inv.lines.filter((l) => l.taxCategory === cat);
            const taxed = ls.reduce((n, l) => n.plus(l.taxAmount), dec('0'));
            const exact = ls.reduce((n, l) => n.plus(exactTax(l)), dec('0'));
            const charged = ls.filter((l) => l.kind !== 'DISCOUNT').length;
            expect(taxed.minus(exact).abs().lte(unit.times(charged).times(mode.startsWith('HALF') ? '0.5' : '1'))).toBe(true);
          }
          const tax = inv.taxSummary.reduce((a, s) => a.plus(s.taxAmount), dec('0')).toFixed(scale);
          expect(tax).toBe(inv.taxTotal);
        },
      ),
      { numRuns: 300 },
    );
  });
});
