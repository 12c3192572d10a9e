import { describe, expect, it } from 'vitest';
import { composeMessage, triggerFromEvent } from './notifications';

// Dispute events (invoicing) as customer messages; the consumer and the dedupe are shown in
// test/dispute-notifications.test.ts.
const opened = { disputeId: 'dsp_1', invoiceId: 'inv_1', billingAccountId: 'acc_1', invoiceLineId: null, usageRecordId: null, amount: '4.995', currency: 'JOD', reason: 'x' };
const text = (kind: 'disputeOpened' | 'disputeResolved', data: Record<string, unknown>) => {
  const r = triggerFromEvent(kind, { id: 'evt_1', type: 't', data });
  if (!('trigger' in r)) throw new Error(r.invalid);
  return { template: r.trigger.template, lineId: r.trigger.lineId, ...composeMessage(r.trigger.template, r.trigger.params) };
};

describe('dispute messages', () => {
  it('received, without an invoice number (events from before it was sent): the amount in the currency minor unit, an account-level message', () => {
    expect(text('disputeOpened', opened)).toEqual({ template: 'DISPUTE_RECEIVED', lineId: null, subject: 'We received your dispute', content: 'We received your dispute of 4.995 JOD. We do not ask you to pay that amount while we look into it, and we will tell you when it is decided.' });
  });

  it('accepted in full without a credited amount credits the amount; accepted for less is partly upheld; a note keeps its own full stop', () => {
    const resolved = { ...opened, amount: '12.00', currency: 'EUR', invoiceNumber: 'INV-7', creditNoteId: 'crn_1', decidedBy: 'auto:goodwill' };
    expect(text('disputeResolved', { ...resolved, status: 'ACCEPTED', creditedAmount: null }).content).toBe('Your dispute of 12.00 EUR on invoice INV-7 was upheld: 12.00 EUR is credited to that invoice.');
    expect(text('disputeResolved', { ...resolved, status: 'ACCEPTED', creditedAmount: '12.00', decisionNote: 'Accepted by the auto-assessment rule goodwill' }).template).toBe('DISPUTE_ACCEPTED');
    expect(text('disputeResolved', { ...resolved, status: 'ACCEPTED', creditedAmount: '0.01', decisionNote: 'Rounding only.' }).content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-7 was partly upheld: 0.01 EUR is credited to that invoice and the other 11.99 EUR is due again. Rounding only.',
    );
    expect(text('disputeResolved', { ...resolved, status: 'REJECTED', creditedAmount: null }).content).toBe('Your dispute of 12.00 EUR on invoice INV-7 was not upheld. The amount is due again.');
  });

  it('on an invoice already paid when decided (invoiceState SETTLED): the credit goes on the account, nothing is due again', () => {
    const resolved = { ...opened, amount: '12.00', currency: 'EUR', invoiceNumber: 'INV-7', creditNoteId: 'crn_1', decidedBy: 'agent:1', invoiceState: 'SETTLED' };
    expect(text('disputeResolved', { ...resolved, status: 'ACCEPTED', creditedAmount: '12.00' }).content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-7 was upheld: 12.00 EUR is credited to your account, as you had already paid that invoice.',
    );
    expect(text('disputeResolved', { ...resolved, status: 'ACCEPTED', creditedAmount: '2.00', decisionNote: 'Roaming day charged twice.' }).content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-7 was partly upheld: 2.00 EUR is credited to your account, as you had already paid that invoice. Roaming day charged twice.',
    );
    expect(text('disputeResolved', { ...resolved, status: 'REJECTED', creditedAmount: null, decisionNote: 'The calls were made.' }).content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-7 was not upheld. The calls were made. You had already paid that invoice: nothing more is due.',
    );
    expect(text('disputeResolved', { ...resolved, status: 'WITHDRAWN', creditedAmount: null }).content).toBe(
      'Your dispute of 12.00 EUR on invoice INV-7 was withdrawn. You had already paid that invoice: nothing more is due.',
    );
    // Not paid when decided (or an event from before the field): the wording stays.
    expect(text('disputeResolved', { ...resolved, invoiceState: 'SENT', status: 'REJECTED', creditedAmount: null }).content).toBe('Your dispute of 12.00 EUR on invoice INV-7 was not upheld. The amount is due again.');
    // Paid in part (invoicing sends the state a held invoice is released to since 2026-11-28): still due.
    expect(text('disputeResolved', { ...resolved, invoiceState: 'PARTIALLY_PAID', status: 'WITHDRAWN', creditedAmount: null }).content).toBe('Your dispute of 12.00 EUR on invoice INV-7 was withdrawn. The amount is due again.');
    expect(text('disputeResolved', { ...resolved, invoiceState: 'PARTIALLY_PAID', status: 'ACCEPTED', creditedAmount: '12.00' }).content).toBe('Your dispute of 12.00 EUR on invoice INV-7 was upheld: 12.00 EUR is credited to that invoice.');
  });

  // Each way invoicing closes a dispute ACCEPTED (the event's creditNoteId and decidedBy) × the state the
  // invoice is released to: where the credit went and what is still owed. A billed re-rate correction
  // (decidedBy rerate:<chargeId>, no credit note) is credited on the next invoice, not on the disputed one.
  const ofInvoice = 'Your dispute of 12.00 EUR on invoice INV-7';
  const paths = {
    decision: { creditNoteId: 'crn_1', decidedBy: 'agent:1' },
    automatic: { creditNoteId: 'crn_1', decidedBy: 'auto:goodwill' },
    coveringNote: { creditNoteId: 'crn_2', decidedBy: 'creditNote:CN-2026-000004' },
    rerate: { creditNoteId: null, decidedBy: 'rerate:adj_rr1' },
  } as const;
  it.each([
    // path, invoiceState, creditedAmount, content
    ['decision', 'SENT', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited to that invoice.`],
    ['decision', 'PARTIALLY_PAID', '2.00', `${ofInvoice} was partly upheld: 2.00 EUR is credited to that invoice and the other 10.00 EUR is due again. Note.`],
    ['decision', 'SETTLED', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited to your account, as you had already paid that invoice.`],
    ['automatic', null, '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited to that invoice.`],
    ['coveringNote', 'SENT', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited to that invoice.`],
    ['coveringNote', 'SETTLED', '2.00', `${ofInvoice} was partly upheld: 2.00 EUR is credited to your account, as you had already paid that invoice. Note.`],
    ['rerate', 'SENT', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited on your next invoice, and the amount you disputed is due again on that invoice.`],
    ['rerate', 'PARTIALLY_PAID', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited on your next invoice, and the amount you disputed is due again on that invoice.`],
    ['rerate', null, '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited on your next invoice, and the amount you disputed is due again on that invoice.`],
    ['rerate', 'SETTLED', '12.00', `${ofInvoice} was upheld: 12.00 EUR is credited on your next invoice; you had already paid that invoice, so nothing more is due on it.`],
    ['rerate', 'SENT', '2.00', `${ofInvoice} was partly upheld: 2.00 EUR is credited on your next invoice, and the amount you disputed is due again on that invoice. Note.`],
    ['rerate', 'SETTLED', '2.00', `${ofInvoice} was partly upheld: 2.00 EUR is credited on your next invoice; you had already paid that invoice, so nothing more is due on it. Note.`],
  ] as const)('accepted by %s, invoice released to %s, %s credited: says where the credit went', (path, invoiceState, creditedAmount, content) => {
    const data = { ...opened, amount: '12.00', currency: 'EUR', invoiceNumber: 'INV-7', ...paths[path], status: 'ACCEPTED', creditedAmount, decisionNote: 'Note', ...(invoiceState ? { invoiceState } : {}) };
    expect(text('disputeResolved', data).content).toBe(content);
  });

  it('a rejection or withdrawal is never credited on the next invoice, whatever decided it', () => {
    const data = { ...opened, amount: '12.00', currency: 'EUR', invoiceNumber: 'INV-7', creditNoteId: null, decidedBy: 'rerate:adj_rr1', creditedAmount: null, invoiceState: 'SENT' };
    expect(text('disputeResolved', { ...data, status: 'REJECTED' }).content).toBe(`${ofInvoice} was not upheld. The amount is due again.`);
    expect(text('disputeResolved', { ...data, status: 'WITHDRAWN' }).content).toBe(`${ofInvoice} was withdrawn. The amount is due again.`);
  });

  it('refuses what it cannot say: an unknown status, no amount, no account', () => {
    expect(triggerFromEvent('disputeResolved', { id: 'e', type: 't', data: { ...opened, status: 'IN_REVIEW' } })).toEqual({ invalid: 'data.status "IN_REVIEW" is not ACCEPTED, REJECTED or WITHDRAWN' });
    expect(triggerFromEvent('disputeOpened', { id: 'e', type: 't', data: { ...opened, amount: undefined } })).toEqual({ invalid: 'data.amount is missing' });
    expect(triggerFromEvent('disputeOpened', { id: 'e', type: 't', data: { ...opened, billingAccountId: undefined } })).toEqual({ invalid: 'data.billingAccountId is missing' });
  });
});
