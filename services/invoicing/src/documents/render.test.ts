import { describe, expect, it } from 'vitest';
import { renderInvoiceHtml, type InvoiceDocumentModel } from './render';

const model = (currency: string, amount: string): InvoiceDocumentModel => ({
  number: 'INV-1', state: 'SENT', customerName: 'A', billingAccountId: 'acc_1', timezone: 'UTC', currency,
  periodStart: new Date('2026-10-01T00:00:00Z'), periodEnd: new Date('2026-11-01T00:00:00Z'), issuedAt: null, dueDate: null, paymentReference: null,
  lines: [{ position: 1, description: 'Plan', quantity: '1', unit: 'MONTH', netAmount: amount, taxRate: '0', taxAmount: '0', grossAmount: amount }],
  netTotal: amount, taxTotal: '0', total: amount, amountPaid: '0', amountCredited: '0', amountDue: amount,
});

// Amounts were printed with two places whatever the currency: 1500 JPY as "1500.00", 1.235 BHD as "1.24".
describe('invoice document amounts', () => {
  it("are printed in the currency's minor unit", () => {
    expect(renderInvoiceHtml(model('EUR', '12.5'))).toContain('Amount due 12.50 EUR');
    expect(renderInvoiceHtml(model('JPY', '1500'))).toContain('Amount due 1500 JPY');
    expect(renderInvoiceHtml(model('BHD', '1.235'))).toContain('Amount due 1.235 BHD');
  });
});
