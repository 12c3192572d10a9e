// Review 3: two discounts on the same target are each capped at the target, but not together.
// compose.ts promises "Amounts are capped at the target, so an invoice never turns negative through
// a discount" (and STATUS.md: "capped at the target"). A 20.00 coupon plus a 50% loyalty discount
// on a 30.00 fee take 35.00 off the fee: 5.00 of the discount comes out of the usage, which no
// discount targets, and a fee-only invoice would go below zero.
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput } from './compose';
import { periodEndingOn } from './period';

const period = periodEndingOn('2026-10-01', 1, 'Europe/Berlin');
const input = (over: Partial<ComposeInput> = {}): ComposeInput => ({
  currency: 'EUR',
  jurisdiction: 'DE',
  roundingMode: 'HALF_EVEN',
  timeZone: 'Europe/Berlin',
  period,
  recurring: [
    { subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'P20', planName: 'Postpaid 20 GB', fee: '30.00', feePeriod: 'MONTH', proration: 'DAILY', taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false },
  ],
  usage: [{ usageType: 'DATA', zone: 'ROAMING_EU', unit: 'MB', quantity: '500', amount: '10.00', count: 3, taxCategory: 'TELECOM_STANDARD' }],
  oneOffs: [],
  discounts: [
    { code: 'WELCOME20', description: '20.00 off the fee', amount: '20.00', target: 'RECURRING' },
    { code: 'LOYAL50', description: '50% off the fee', percent: '50', target: 'RECURRING' },
  ],
  taxRules: [{ jurisdiction: 'DE', category: 'TELECOM_STANDARD', rate: '0.19', inclusive: false, name: 'USt' }],
  ...over,
});

describe('review3: stacked discounts', () => {
  it('all discounts on the recurring fees together take off at most the recurring fees', () => {
    const inv = composeInvoice(input());
    const off = inv.lines.filter((l) => l.kind === 'DISCOUNT').reduce((a, l) => a.plus(l.netAmount), dec('0'));
    expect(off.negated().toFixed(2), 'two RECURRING discounts must be capped together at the 30.00 fee (the 10.00 usage is not discounted)').toBe('30.00');
    expect(inv.netTotal, 'net = 30.00 fee − 30.00 discounts + 10.00 usage').toBe('10.00');
  });

  it('a fee-only invoice never turns negative through discounts', () => {
    const inv = composeInvoice(input({ usage: [] }));
    expect(dec(inv.grossTotal).isNegative(), `discounts alone turned the invoice negative: total ${inv.grossTotal}`).toBe(false);
  });
});
