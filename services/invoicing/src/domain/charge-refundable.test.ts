import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import { chargeRefundable, lineCreditable, shareOfLine, type ChargeGivenBack } from './charge-refundable';
import { creditNoteLines } from './lifecycle';

// The 10.00 activation at 19 %: 11.90 on its line.
const activation = (over: Partial<ChargeGivenBack> = {}, line: Partial<NonNullable<ChargeGivenBack['line']>> | null = {}): ChargeGivenBack => ({
  currency: 'EUR',
  amount: '10.00',
  refunds: [],
  line: line === null ? null : { gross: '11.90', credited: '0', disputed: '0', ...line },
  ...over,
});
const fixed = (r: ReturnType<typeof chargeRefundable>) => ({
  refundedGross: r.refundedGross?.toFixed(2) ?? null,
  creditable: r.creditable?.toFixed(2) ?? null,
  undisputed: r.undisputed?.toFixed(2) ?? null,
  refundable: r.refundable.toFixed(2),
});

describe('one remaining amount per charge and line', () => {
  it('nothing given back: the whole line, the whole charge', () => {
    expect(fixed(chargeRefundable(activation()))).toEqual({ refundedGross: '0.00', creditable: '11.90', undisputed: '11.90', refundable: '10.00' });
  });

  it('not billed (or on a draft): only refunds count, in the charge\'s terms', () => {
    expect(fixed(chargeRefundable(activation({ refunds: [{ amount: '-4.00', billedGross: null }] }, null)))).toEqual({ refundedGross: null, creditable: null, undisputed: null, refundable: '6.00' });
    expect(chargeRefundable(activation({ refunds: [{ amount: '-10.00', billedGross: null }] }, null)).refundable.toFixed(2)).toBe('0.00');
  });

  it('a credit note on the line leaves the refund only what it did not credit', () => {
    expect(fixed(chargeRefundable(activation({}, { credited: '11.90' })))).toMatchObject({ creditable: '0.00', refundable: '0.00' });
    expect(fixed(chargeRefundable(activation({}, { credited: '5.95' })))).toMatchObject({ creditable: '5.95', refundable: '5.00' });
  });

  it('a refund not billed yet takes its share of the line from the notes', () => {
    expect(fixed(chargeRefundable(activation({ refunds: [{ amount: '-4.00', billedGross: null }] })))).toEqual({ refundedGross: '4.76', creditable: '7.14', undisputed: '7.14', refundable: '6.00' });
    expect(fixed(chargeRefundable(activation({ refunds: [{ amount: '-10.00', billedGross: null }] })))).toMatchObject({ creditable: '0.00', refundable: '0.00' });
  });

  it('a billed refund counts as billed (its own line), not as its share', () => {
    expect(fixed(chargeRefundable(activation({ refunds: [{ amount: '-4.00', billedGross: '-4.77' }] })))).toMatchObject({ refundedGross: '4.77', creditable: '7.13' });
  });

  it('open disputes of the line hold their room from refunds and new disputes, not from notes (a note covers them)', () => {
    expect(fixed(chargeRefundable(activation({}, { disputed: '11.90' })))).toEqual({ refundedGross: '0.00', creditable: '11.90', undisputed: '0.00', refundable: '0.00' });
    expect(fixed(chargeRefundable(activation({}, { disputed: '5.95' })))).toMatchObject({ undisputed: '5.95', refundable: '5.00' });
  });

  it('notes, refunds and disputes together', () => {
    const r = chargeRefundable(activation({ refunds: [{ amount: '-2.00', billedGross: '-2.38' }, { amount: '-1.00', billedGross: null }] }, { credited: '3.57', disputed: '1.19' }));
    // 11.90 − 3.57 − 2.38 − 1.19 = 4.76 creditable; less 1.19 disputed = 3.57 = 3.00 of the charge.
    expect(fixed(r)).toEqual({ refundedGross: '3.57', creditable: '4.76', undisputed: '3.57', refundable: '3.00' });
  });

  it('more given back than the line (rows from before): nothing is left, never below zero', () => {
    expect(fixed(chargeRefundable(activation({ refunds: [{ amount: '-10.00', billedGross: '-11.90' }] }, { credited: '11.90' })))).toMatchObject({ creditable: '0.00', undisputed: '0.00', refundable: '0.00' });
    expect(lineCreditable('11.90', '5.00', '7.00').toFixed(2)).toBe('0.00');
  });

  it('a tax-inclusive charge: its amount is its line', () => {
    expect(fixed(chargeRefundable(activation({ amount: '11.90', refunds: [{ amount: '-0.01', billedGross: null }] }, { credited: '5.00' })))).toMatchObject({ creditable: '6.89', refundable: '6.89' });
  });

  it('the refundable amount is the largest whose share of the line fits, and one unit more does not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (cents, taxPct, creditedPct, refundedPct) => {
        const amount = dec(String(cents)).dividedBy(100);
        const gross = dec(amount.times(100 + taxPct).dividedBy(100).toFixed(2));
        const credited = dec(gross.times(creditedPct).dividedBy(200).toFixed(2));
        const refunded = dec(amount.times(refundedPct).dividedBy(200).toFixed(2));
        const c: ChargeGivenBack = { currency: 'EUR', amount: amount.toFixed(2), refunds: refunded.gt(0) ? [{ amount: refunded.negated().toFixed(2), billedGross: null }] : [], line: { gross: gross.toFixed(2), credited: credited.toFixed(2), disputed: '0' } };
        const r = chargeRefundable(c);
        const share = (x: ReturnType<typeof dec>) => shareOfLine(gross.toFixed(2), amount.toFixed(2), x, 'EUR');
        // What it lets through, together with what was given, never exceeds the line.
        expect(credited.plus(r.refundedGross!).plus(share(r.refundable)).lte(gross)).toBe(true);
        expect(r.refundable.plus(refunded).lte(amount)).toBe(true);
        // One cent more would not fit (unless the charge is refunded in full by it already).
        const more = r.refundable.plus('0.01');
        if (more.plus(refunded).lte(amount)) expect(share(more).gt(r.undisputed!)).toBe(true);
      }),
    );
  });
});

describe('a credit note weighs what was given back apart from notes', () => {
  const line = { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '0', taxCredited: '0' };
  it('refuses above the line less its refunds, saying what is left, and passes at it', () => {
    expect(() => creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '7.15', line: { ...line, givenBackApart: '4.76' } }])).toThrow(
      expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_LINE', details: expect.objectContaining({ field: 'input.lines[0].amount', creditable: '7.14' }) }),
    );
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '7.14', line: { ...line, givenBackApart: '4.76' } }])).toEqual([{ invoiceLineId: 'l1', amount: '7.14', taxAmount: '1.14' }]);
  });
});
