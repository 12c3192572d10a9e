import { describe, expect, it } from 'vitest';
import { Decimal, dec } from '@ledgerline/contracts';
import { allocatePayment, assertCreditNoteWithinInvoice, assertTransition, creditNoteLines, isDraft, settlementState, splitRefund } from './lifecycle';

const sent = { state: 'SENT' as const, currency: 'EUR', total: '100.00', amountPaid: '0', amountCredited: '0' };

describe('payments', () => {
  it('splits an overpayment into applied and credit when allowed', () => {
    expect(allocatePayment({ invoice: { ...sent, amountPaid: '60.00' }, amount: '50.00', currency: 'EUR', allowOverpayment: true })).toEqual({ applied: '40.00', toCredit: '10.00' });
  });
  it.each([
    ['wrong currency', { amount: '10', currency: 'USD', allowOverpayment: false }, sent, 'PAYMENT_CURRENCY_MISMATCH'],
    ['voided invoice', { amount: '10', currency: 'EUR', allowOverpayment: false }, { ...sent, state: 'VOIDED' as const }, 'INVOICE_VOIDED'],
    ['above remaining', { amount: '100.01', currency: 'EUR', allowOverpayment: false }, sent, 'PAYMENT_EXCEEDS_REMAINING'],
    ['sub-cent', { amount: '1.001', currency: 'EUR', allowOverpayment: false }, sent, 'PAYMENT_AMOUNT_PRECISION'],
    ['draft', { amount: '10', currency: 'EUR', allowOverpayment: false }, { ...sent, state: 'NEW' as const }, 'INVOICE_NOT_ISSUED'],
    ['draft on hold', { amount: '10', currency: 'EUR', allowOverpayment: false }, { ...sent, state: 'ON_HOLD' as const, heldFrom: 'NEW' }, 'INVOICE_NOT_ISSUED'],
    ['validated draft on hold', { amount: '10', currency: 'EUR', allowOverpayment: false }, { ...sent, state: 'ON_HOLD' as const, heldFrom: 'VALIDATED' }, 'INVOICE_NOT_ISSUED'],
  ])('refuses a payment: %s', (_, p, invoice, code) => {
    expect(() => allocatePayment({ invoice, ...p })).toThrow(expect.objectContaining({ code }));
  });
  it('pays a sent invoice on hold (a dispute), not a draft on hold', () => {
    expect(allocatePayment({ invoice: { ...sent, state: 'ON_HOLD', heldFrom: 'SENT' }, amount: '10.00', currency: 'EUR', allowOverpayment: false })).toEqual({ applied: '10.00', toCredit: '0.00' });
    expect([isDraft({ state: 'ON_HOLD', heldFrom: 'PARTIALLY_PAID' }), isDraft({ state: 'ON_HOLD', heldFrom: 'NEW' }), isDraft({ state: 'SENT' })]).toEqual([false, true, false]);
  });
  it('derives the settlement state', () => {
    expect(settlementState({ total: '10', amountPaid: '4', amountCredited: '0' })).toBe('PARTIALLY_PAID');
    expect(settlementState({ total: '10', amountPaid: '4', amountCredited: '6' })).toBe('SETTLED');
    expect(settlementState({ total: '10', amountPaid: '0', amountCredited: '0' })).toBe('SENT');
  });
  it('guards transitions', () => {
    expect(() => assertTransition('VOIDED', 'SENT')).toThrow(expect.objectContaining({ code: 'INVOICE_ILLEGAL_TRANSITION' }));
    expect(() => assertTransition('NEW', 'VALIDATED')).not.toThrow();
  });
});

describe('credit notes', () => {
  const line = { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '5.00', taxCredited: '0.80' };
  it('splits the credited gross into tax by the line ratio', () => {
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '5.95', line }])).toEqual([{ invoiceLineId: 'l1', amount: '5.95', taxAmount: '0.95' }]);
  });
  it('refuses more than is left on the line', () => {
    expect(() => creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '6.91', line }])).toThrow(expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_LINE', details: expect.objectContaining({ field: 'input.lines[0].amount' }) }));
  });

  // Review 16: the tax of a note is the line's tax share of all credited on it so far, less what
  // earlier notes gave back, so pieces never add up to more tax (or net) than the line billed.
  const creditInPieces = (gross: string, tax: string, pieces: string[], mode?: 'HALF_EVEN' | 'HALF_UP' | 'FLOOR' | 'CEILING') => {
    let credited = dec('0');
    let taxCredited = dec('0');
    return pieces.map((amount) => {
      const [l] = creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount, line: { grossAmount: gross, taxAmount: tax, creditedAmount: credited.toFixed(2), taxCredited: taxCredited.toFixed(2) } }], mode);
      credited = credited.plus(l.amount);
      taxCredited = taxCredited.plus(l.taxAmount);
      return { amount: l.amount, tax: l.taxAmount, credited: credited.toFixed(2), taxCredited: taxCredited.toFixed(2) };
    });
  };
  it('gives back exactly the line tax when the line is credited in pieces (0.04 + 0.04 + rest)', () => {
    const notes = creditInPieces('35.69', '5.70', ['0.04', '0.04', '35.61']);
    expect(notes.map((n) => n.tax)).toEqual(['0.01', '0.00', '5.69']);
    expect(notes.at(-1)).toMatchObject({ credited: '35.69', taxCredited: '5.70' });
  });
  it('never gives back more tax or net than the line billed, whatever the split and rounding mode', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (const mode of ['HALF_EVEN', 'HALF_UP', 'FLOOR', 'CEILING'] as const) {
      for (let run = 0; run < 300; run++) {
        const netCents = 1 + rnd(5000);
        const rate = ['0.19', '0.20', '0.21', '0.07', '0.6', '0'][rnd(6)];
        const tax = dec(String(netCents)).dividedBy(100).times(rate).toDecimalPlaces(2);
        const gross = dec(String(netCents)).dividedBy(100).plus(tax);
        const pieces: string[] = [];
        let left = gross;
        while (left.gt(0)) {
          const p = rnd(4) === 0 ? left : Decimal.min(left, dec(String(1 + rnd(7))).dividedBy(100));
          pieces.push(p.toFixed(2));
          left = left.minus(p);
        }
        for (const n of creditInPieces(gross.toFixed(2), tax.toFixed(2), pieces, mode)) {
          expect(dec(n.tax).gte(0) && dec(n.tax).lte(n.amount)).toBe(true);
          expect(dec(n.taxCredited).lte(tax)).toBe(true);
          expect(dec(n.credited).minus(n.taxCredited).lte(gross.minus(tax))).toBe(true);
        }
        expect(creditInPieces(gross.toFixed(2), tax.toFixed(2), pieces, mode).at(-1)!.taxCredited).toBe(tax.toFixed(2));
      }
    }
  });
  it('keeps a note within what is left of the line after notes written before this rule took too much tax', () => {
    const [l] = creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '1.00', line: { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '5.00', taxCredited: '1.90' } }]);
    expect(l.taxAmount).toBe('0.00');
  });
  it('keeps the invoice whole: no more tax back than the invoice billed when a discount line took it off', () => {
    // A (19 %) 11.90 with tax 1.90, a 100 % discount on A −11.90 (tax −1.90), B (no tax) 10.00: the
    // invoice billed 10.00 with no tax. Crediting 10.00 of A (all the invoice allows) gives no tax back.
    const invoice = { total: '10.00', netTotal: '10.00', taxTotal: '0.00', creditedTotal: '0', taxCreditedTotal: '0' };
    const line = { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '0', taxCredited: '0' };
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'a', amount: '10.00', line }])[0].taxAmount).toBe('1.60');
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'a', amount: '10.00', line }], 'HALF_EVEN', invoice)[0].taxAmount).toBe('0.00');
    // Half of it: at most what is left of the invoice's net comes back as net, the rest stays within the tax left.
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'a', amount: '5.00', line }], 'HALF_EVEN', invoice)[0].taxAmount).toBe('0.00');
  });
});

describe('credit notes against the invoice total', () => {
  it('credits at most what the invoice billed, over all its credit notes', () => {
    expect(assertCreditNoteWithinInvoice('EUR', '17.84', '7.84', [{ amount: '10.00' }])).toBe('10.00');
    expect(() => assertCreditNoteWithinInvoice('EUR', '17.84', '7.84', [{ amount: '10.01' }])).toThrow(
      expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_INVOICE', category: 'BAD_USER_INPUT', details: expect.objectContaining({ field: 'input.lines', creditable: '10.00' }) }),
    );
    expect(() => assertCreditNoteWithinInvoice('EUR', '-5.00', '0', [{ amount: '0.01' }])).toThrow(expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_INVOICE' }));
  });
});

describe('refund split', () => {
  const base = { currency: 'EUR', keptCredit: '10.00', creditBalance: '10.00', paidOnInvoice: '35.69', invoicePaid: '35.69' };
  it('gives back kept credit first, then reopens the invoice', () => {
    expect(splitRefund({ ...base, amount: '15.00' })).toEqual({ fromCredit: '10.00', fromInvoice: '5.00' });
  });
  it('does not give back kept credit the account has spent since', () => {
    expect(splitRefund({ ...base, creditBalance: '4.00', amount: '10.00' })).toEqual({ fromCredit: '4.00', fromInvoice: '6.00' });
    expect(() => splitRefund({ ...base, creditBalance: '0', amount: '45.69' })).toThrow(
      expect.objectContaining({ code: 'REFUND_EXCEEDS_AVAILABLE', details: expect.objectContaining({ field: 'input.amount.amount', refundable: '35.69' }) }),
    );
  });
  it('does not reopen an invoice below what is paid on it', () => {
    expect(() => splitRefund({ ...base, keptCredit: '0', invoicePaid: '20.00', amount: '20.01' })).toThrow(expect.objectContaining({ code: 'REFUND_EXCEEDS_AVAILABLE', details: expect.objectContaining({ refundable: '20.00' }) }));
  });
});
