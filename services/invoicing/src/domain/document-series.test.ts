import { describe, expect, it } from 'vitest';
import { CREDIT_NOTE_PREFIX, INVOICE_SERIES_MAX_LENGTH, RECEIPT_PREFIX, RESERVED_INVOICE_SERIES, invoiceSeriesProblem } from './document-series';

describe('invoiceSeriesProblem', () => {
  it('reserves the prefixes credit notes and receipts are numbered under (payments.ts uses these constants)', () => {
    expect(RESERVED_INVOICE_SERIES).toEqual([CREDIT_NOTE_PREFIX, RECEIPT_PREFIX]);
    for (const s of [CREDIT_NOTE_PREFIX, RECEIPT_PREFIX, ' cn ', 'rct']) expect(invoiceSeriesProblem(s)?.code, s).toBe('INVOICE_SERIES_RESERVED');
  });

  it('refuses more than 16 characters (counted as characters) or a NUL as INVOICE_SERIES_INVALID; takes 16', () => {
    expect(INVOICE_SERIES_MAX_LENGTH).toBe(16);
    for (const s of ['A'.repeat(17), 'Ä'.repeat(17), '😀'.repeat(17), 'INV\u0000']) expect(invoiceSeriesProblem(s)?.code, JSON.stringify(s)).toBe('INVOICE_SERIES_INVALID');
    for (const s of ['A'.repeat(16), '😀'.repeat(16), 'INV', 'CNX']) expect(invoiceSeriesProblem(s), s).toBeUndefined();
  });
});
