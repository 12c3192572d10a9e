import { describe, expect, it } from 'vitest';
import { accountParams, composeMessage, triggerFromEvent } from './notifications';

const tokyo = accountParams({ timezone: 'Asia/Tokyo', autopayToken: null });
const text = (r: ReturnType<typeof triggerFromEvent>) => {
  if (!('trigger' in r)) throw new Error(r.invalid);
  return composeMessage(r.trigger.template, { ...tokyo, ...r.trigger.params });
};

describe('money messages', () => {
  it("JPY in whole yen and KWD in fils, days in the account's zone (15:30 UTC is the next day in Tokyo)", () => {
    const paid = triggerFromEvent('paymentReceived', { id: 'e', type: 'PaymentCreateEvent', data: { billingAccountId: 'a', channel: 'CARD', amount: '4800', appliedAmount: '4800', creditAmount: '0', currency: 'JPY', invoiceState: 'SETTLED', invoiceNumber: 'INV-7', amountDue: '0', paidAt: '2026-11-30T15:30:00Z' } });
    expect(text(paid)).toEqual({ subject: 'Payment received', content: 'We received your card payment of 4800 JPY on 2026-12-01 for invoice INV-7: it is paid in full.' });
    const topup = triggerFromEvent('topupConfirmed', { id: 'e', type: 'TopupBalanceCreateEvent', time: '2026-11-30T15:30:00Z', data: { billingAccountId: 'a', channel: 'PAYMENT', amount: '5.000000', currency: 'KWD', balance: { amount: '7.2349', currency: 'KWD' }, duePaid: '0' } });
    expect(text(topup).content).toBe('Your top-up of 5.000 KWD was credited on 2026-12-01. Your balance is now 7.234 KWD.');
  });

  it('a disputed remainder, and a payment that found its invoice already paid', () => {
    const base = { billingAccountId: 'a', channel: 'BANK_TRANSFER', currency: 'EUR', invoiceNumber: 'INV-9', paidAt: '2026-11-30T10:00:00Z' };
    const held = triggerFromEvent('paymentReceived', { id: 'e', type: 'PaymentCreateEvent', data: { ...base, amount: '10', appliedAmount: '10', creditAmount: '0', invoiceState: 'ON_HOLD', amountDue: '15', amountDisputed: '12' } });
    expect(text(held).content).toBe('We received your bank transfer of 10.00 EUR on 2026-11-30 for invoice INV-9. 15.00 EUR is left on it, 12.00 EUR of which you dispute: we do not ask for that until the dispute is decided.');
    const late = triggerFromEvent('paymentReceived', { id: 'e', type: 'PaymentCreateEvent', data: { ...base, channel: 'CARD', autopay: true, amount: '10', appliedAmount: '0', creditAmount: '10', invoiceState: 'SETTLED', amountDue: '0', creditApplied: [], creditLeft: '10' } });
    expect(text(late).content).toBe('We charged 10.00 EUR to your card on file on 2026-11-30 for invoice INV-9, which was already paid. It stays on your account as credit for your next bills.');
  });

  it("a credit note for the fees after the account's closure says so, with the closing day in the account's zone (15:30 UTC is the next day in Tokyo)", () => {
    const base = { creditNoteId: 'cn', number: 'CN-00000009', invoiceId: 'inv', billingAccountId: 'a', kind: 'CREDIT', total: '1382', taxTotal: '0', currency: 'JPY', invoiceNumber: 'INV-9', cause: 'ACCOUNT_CLOSED', accountClosedAt: '2026-10-19T15:30:00Z' };
    const open = triggerFromEvent('creditNoteIssued', { id: 'e', type: 'CreditNoteCreateEvent', time: '2026-11-01T01:00:00Z', data: { ...base, creditAmount: '0', amountDue: '2187', dueDate: '2026-11-15T01:00:00Z' } });
    expect(text(open)).toEqual({
      subject: 'A credit on your invoice INV-9',
      content: 'We issued credit note CN-00000009 of 1382 JPY on invoice INV-9 on 2026-11-01, for the fees of the days after your account was closed on 2026-10-20. It lowers what you owe on that invoice: 2187 JPY is left to pay, due on 2026-11-15.',
    });
    const paid = triggerFromEvent('creditNoteIssued', { id: 'e', type: 'CreditNoteCreateEvent', time: '2026-11-01T01:00:00Z', data: { ...base, creditAmount: '1382', amountDue: '0' } });
    expect(text(paid).content).toBe('We issued credit note CN-00000009 of 1382 JPY on invoice INV-9 on 2026-11-01, for the fees of the days after your account was closed on 2026-10-20. You had already paid that invoice: 1382 JPY stays on your account as credit for your next bills. Nothing more is due on the invoice.');
    // Without the instant (not expected from invoicing, but never a wrong day): the cause alone.
    const { accountClosedAt: _c, ...noDay } = base;
    const bare = triggerFromEvent('creditNoteIssued', { id: 'e', type: 'CreditNoteCreateEvent', time: '2026-11-01T01:00:00Z', data: { ...noDay, creditAmount: '0', amountDue: '2187' } });
    expect(text(bare).content).toBe('We issued credit note CN-00000009 of 1382 JPY on invoice INV-9 on 2026-11-01, for the fees of the days after your account was closed. It lowers what you owe on that invoice: 2187 JPY is left to pay.');
  });

  it('a REFUND note part of which the card provider refused says what is paid back and what stays as account credit', () => {
    const base = { creditNoteId: 'cn', number: 'CN-00000011', invoiceId: 'inv', billingAccountId: 'a', kind: 'REFUND', total: '35.69', taxTotal: '0', currency: 'EUR', invoiceNumber: 'INV-11', amountDue: '0' };
    const all = triggerFromEvent('creditNoteIssued', { id: 'e', type: 'CreditNoteCreateEvent', time: '2026-11-01T01:00:00Z', data: { ...base, creditAmount: '0' } });
    expect(text(all).content).toBe('We issued credit note CN-00000011 of 35.69 EUR on invoice INV-11 on 2026-11-01. We are paying it back to you: a separate message tells you how the money reaches you.');
    const part = triggerFromEvent('creditNoteIssued', { id: 'e', type: 'CreditNoteCreateEvent', time: '2026-11-01T01:00:00Z', data: { ...base, creditAmount: '25.69' } });
    expect(text(part).content).toBe('We issued credit note CN-00000011 of 35.69 EUR on invoice INV-11 on 2026-11-01. We are paying 10.00 EUR of it back to you: a separate message tells you how the money reaches you. Your card could not take back the other 25.69 EUR: it stays on your account as credit for your next bills.');
  });

  it('account credit applied by invoicing needs no message; an event it cannot read is refused; a plan rule naming a money template gets plain text', () => {
    expect(triggerFromEvent('paymentReceived', { id: 'e', type: 'PaymentCreateEvent', data: { billingAccountId: 'a', channel: 'ACCOUNT_CREDIT', amount: '1', currency: 'EUR' } })).toMatchObject({ ignored: true });
    expect(triggerFromEvent('paymentReceived', { id: 'e', type: 'PaymentCreateEvent', data: { billingAccountId: 'a', channel: 'CARD', amount: '1,00', currency: 'EUR' } })).toEqual({ invalid: 'data.amount "1,00" is not a decimal' });
    expect(triggerFromEvent('refundSent', { id: 'e', type: 'RefundCreateEvent', data: { billingAccountId: 'a', channel: 'CARD', amount: '1', currency: 'XXX' } })).toEqual({ invalid: 'data.currency "XXX" is not a currency we bill in' });
    expect(triggerFromEvent('payoutSent', { id: 'e', type: 'BalanceStateChangeEvent', data: { billingAccountId: 'a', amount: { currency: 'EUR' } } })).toEqual({ invalid: 'data.amount null is not a decimal' });
    expect(composeMessage('TOPUP_CONFIRMED', { period: '2026-11-15' }).content).toBe('Notice TOPUP_CONFIRMED for 2026-11-15.');
  });
});
