import { describe, expect, it } from 'vitest';
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
  const line = { grossAmount: '11.90', taxAmount: '1.90', creditedAmount: '5.00' };
  it('splits the credited gross into tax by the line ratio', () => {
    expect(creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '5.95', line }])).toEqual([{ invoiceLineId: 'l1', amount: '5.95', taxAmount: '0.95' }]);
  });
  it('refuses more than is left on the line', () => {
    expect(() => creditNoteLines('EUR', [{ invoiceLineId: 'l1', amount: '6.91', line }])).toThrow(expect.objectContaining({ code: 'CREDIT_NOTE_EXCEEDS_LINE', details: expect.objectContaining({ field: 'input.lines[0].amount' }) }));
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
