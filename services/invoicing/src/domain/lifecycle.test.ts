import { describe, expect, it } from 'vitest';
import { allocatePayment, assertTransition, creditNoteLines, settlementState } from './lifecycle';

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
  ])('refuses a payment: %s', (_, p, invoice, code) => {
    expect(() => allocatePayment({ invoice, ...p })).toThrow(expect.objectContaining({ code }));
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
  const line = { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '5.00' };
  it('splits the credited gross into tax by the line ratio', () => {
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '5.95', line }])).toEqual([{ invoiceLineId: 'l1', amount: '5.95', taxAmount: '0.95' }]);
  });
  it('refuses more than is left on the line', () => {
    expect(() => creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '6.91', line }])).toThrow(expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_LINE', details: expect.objectContaining({ field: 'input.lines[0].amount' }) }));
  });
});
