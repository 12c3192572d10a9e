import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dec } from '@ledgerline/contracts';
import type { RoundingMode } from '@ledgerline/contracts';
import { chargeRefundable, invoiceUndisputed, lineCreditable, refundGrossAsBilled, type ChargeGivenBack, type RefundTax } from './charge-refundable';
import { taxLine } from './compose';
import { creditNoteLines } from './lifecycle';

const VAT19: RefundTax = { rate: '0.19', inclusive: false, roundingMode: 'HALF_EVEN' };

// The 10.00 activation at 19 %: 11.90 on its line.
const activation = (over: Partial<ChargeGivenBack> = {}, line: Partial<NonNullable<ChargeGivenBack['line']>> | null = {}): ChargeGivenBack => ({
  currency: 'EUR',
  amount: '10.00',
  refunds: [],
  line: line === null ? null : { gross: '11.90', credited: '0', disputed: '0', tax: VAT19, ...line },
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

  it('a refund not billed yet takes from the notes what its bill will show', () => {
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
    expect(fixed(chargeRefundable(activation({ amount: '11.90', refunds: [{ amount: '-0.01', billedGross: null }] }, { credited: '5.00', tax: { ...VAT19, inclusive: true } })))).toMatchObject({ creditable: '6.89', refundable: '6.89' });
  });

  it('refunds in pieces are weighed as billed: a 10.01 activation (11.91) refunded 2.50 + 2.50 bills 2.98 each, so at most 5.00 more (5.95); was 5.01, billed 5.96: 11.92', () => {
    const c = activation({ amount: '10.01', refunds: [{ amount: '-2.50', billedGross: null }, { amount: '-2.50', billedGross: null }] }, { gross: '11.91' });
    expect(fixed(chargeRefundable(c))).toEqual({ refundedGross: '5.96', creditable: '5.95', undisputed: '5.95', refundable: '5.00' });
    // Billed, the same.
    expect(chargeRefundable({ ...c, refunds: c.refunds.map((r) => ({ ...r, billedGross: '-2.98' })) }).refundable.toFixed(2)).toBe('5.00');
  });

  it('a 3-way split of 10.00 at 19 % on an account rounding UP: 3.33 + 3.33 bill 3.97 each, the third at most 3.32; was 3.34, billed 3.98: 11.92', () => {
    const up: RefundTax = { ...VAT19, roundingMode: 'UP' };
    expect(refundGrossAsBilled('-3.33', up, 'EUR').toFixed(2)).toBe('3.97');
    const r = chargeRefundable(activation({ refunds: [{ amount: '-3.33', billedGross: null }, { amount: '-3.33', billedGross: null }] }, { tax: up }));
    expect(fixed(r)).toMatchObject({ refundedGross: '7.94', creditable: '3.96', refundable: '3.32' });
  });

  it('a dispute of the whole invoice: a refund is at most what the invoice has left if its open disputes are upheld', () => {
    // 47.59 billed, 40.00 disputed on the invoice: 7.59 left, 6.38 of the charge (7.59 as billed; 6.39 would bill 7.60).
    const room = invoiceUndisputed('47.59', '0', '0', '40.00');
    expect(room.toFixed(2)).toBe('7.59');
    expect(fixed(chargeRefundable(activation({}, { invoiceUndisputed: room })))).toEqual({ refundedGross: '0.00', creditable: '11.90', undisputed: '7.59', refundable: '6.38' });
    expect(chargeRefundable(activation({}, { invoiceUndisputed: invoiceUndisputed('47.59', '0', '0', '47.59') })).refundable.toFixed(2)).toBe('0.00');
    // The line's own limit still holds when the invoice has more room.
    expect(chargeRefundable(activation({}, { credited: '5.95', invoiceUndisputed: '30.00' })).refundable.toFixed(2)).toBe('5.00');
    expect(invoiceUndisputed('47.59', '10.00', '11.90', '40.00').toFixed(2)).toBe('0.00');
  });

  it('what is let through, billed as the bill bills it, never exceeds the line nor the invoice\'s room, and one unit more would', () => {
    const modes: RoundingMode[] = ['HALF_EVEN', 'HALF_UP', 'HALF_DOWN', 'UP', 'DOWN', 'CEILING', 'FLOOR'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        fc.constantFrom(...modes),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.boolean()), { maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: 120_000 })),
        (cents, taxPct, inclusive, roundingMode, creditedPct, pieces, roomCents) => {
          const tax: RefundTax = { rate: dec(String(taxPct)).dividedBy(100).toFixed(), inclusive, roundingMode };
          const amount = dec(String(cents)).dividedBy(100);
          const gross = dec(taxLine(amount, tax, 2, roundingMode).gross);
          fc.pre(gross.gt(0));
          const credited = dec(gross.times(creditedPct).dividedBy(200).toFixed(2, 1));
          const invoiceRoom = roomCents == null ? undefined : dec(String(roomCents)).dividedBy(100);
          const line = { gross: gross.toFixed(2), credited: credited.toFixed(2), disputed: '0', tax, invoiceUndisputed: invoiceRoom };
          // Refunds one after the other, each a part of what the limit lets through, some billed (as the bill bills them).
          const refunds: { amount: string; billedGross: string | null }[] = [];
          for (const [pct, billedNow] of pieces) {
            const left = chargeRefundable({ currency: 'EUR', amount: amount.toFixed(2), refunds, line }).refundable;
            const x = dec(left.times(pct).dividedBy(100).toFixed(2, 1));
            if (!x.gt(0)) continue;
            refunds.push({ amount: x.negated().toFixed(2), billedGross: billedNow ? taxLine(x.negated(), tax, 2, roundingMode).gross : null });
          }
          const r = chargeRefundable({ currency: 'EUR', amount: amount.toFixed(2), refunds, line });
          const billedBack = [...refunds.map((x) => x.amount), r.refundable.negated().toFixed(2)].reduce((a, x) => a.plus(dec(taxLine(dec(x), tax, 2, roundingMode).gross).abs()), dec('0'));
          // Everything billed back, with the notes, never exceeds the line; nor the invoice's room (what is let through now).
          expect(credited.plus(billedBack).lte(gross)).toBe(true);
          if (invoiceRoom) expect(refundGrossAsBilled(r.refundable, tax, 'EUR').lte(invoiceRoom)).toBe(true);
          // One unit more would not fit (unless the charge is all refunded by then).
          const more = r.refundable.plus('0.01');
          const refunded = refunds.reduce((a, x) => a.plus(dec(x.amount).abs()), dec('0'));
          if (more.plus(refunded).lte(amount)) expect(refundGrossAsBilled(more, tax, 'EUR').gt(r.undisputed!)).toBe(true);
        },
      ),
      { numRuns: 300 },
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
