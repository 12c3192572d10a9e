import { describe, expect, it } from 'vitest';
import { accountParams, composeMessage, triggerFromEvent } from './notifications';

/** invoicing's customerBillDunningNotice for an account in Tokyo: due 2026-12-14 16:00 UTC is the 15th there. */
const notice = (data: Record<string, unknown>) =>
  triggerFromEvent('dunningNotice', {
    id: 'evt_d',
    type: 'CustomerBillDunningNoticeEvent',
    data: {
      invoiceId: 'inv_1',
      number: 'INV-7',
      paymentReference: 'INV-7',
      billingAccountId: 'acc_1',
      notice: 'REMINDER',
      level: 1,
      currency: 'JPY',
      amountDue: '4800',
      dueDate: '2026-12-14T16:00:00.000Z',
      lateFee: { amount: '500', at: '2026-12-24T16:00:00.000Z' },
      barAt: '2026-12-28T16:00:00.000Z',
      linesResumed: null,
      stepKey: 'dunning-inv_1:reminder-1',
      ...data,
    },
  });
const text = (r: ReturnType<typeof notice>): { subject: string; content: string } => {
  if (!('trigger' in r)) throw new Error(`not a trigger: ${r.invalid}`);
  return composeMessage(r.trigger.template, { ...accountParams({ timezone: 'Asia/Tokyo' }), ...r.trigger.params });
};

describe('dunning notices', () => {
  it('a reminder names the invoice, what is due, the local due date, and the late fee and bar to come on their local days', () => {
    const r = notice({});
    expect('trigger' in r && r.trigger).toMatchObject({ template: 'DUNNING_REMINDER', lineId: null, eventId: 'evt_d' });
    expect(text(r)).toEqual({
      subject: 'Reminder: your bill INV-7 is overdue',
      content: 'Your bill INV-7 was due on 2026-12-15 and 4800 JPY of it is still unpaid. Unless it is paid, a late fee of 500 JPY will be added on 2026-12-25 and your lines will be barred on 2026-12-29. Pay it in the app, or by bank transfer with the reference INV-7.',
    });
  });

  it('the final notice, with only the bar to come (the fee is behind it), and a reminder with nothing to come', () => {
    expect(text(notice({ notice: 'FINAL_NOTICE', level: 2, lateFee: null }))).toEqual({
      subject: 'Final notice: your bill INV-7 is overdue',
      content: 'Your bill INV-7 was due on 2026-12-15 and 4800 JPY of it is still unpaid. Unless it is paid, your lines will be barred on 2026-12-29. Pay it in the app, or by bank transfer with the reference INV-7.',
    });
    expect(text(notice({ lateFee: null, barAt: null })).content).toBe('Your bill INV-7 was due on 2026-12-15 and 4800 JPY of it is still unpaid. Pay it in the app, or by bank transfer with the reference INV-7.');
  });

  it('the bar, and the payment: lines back on only when the lifted hold switched some on', () => {
    expect(text(notice({ notice: 'BARRED', lateFee: null, barAt: null }))).toEqual({
      subject: 'Your lines are barred',
      content: 'Your lines are barred because 4800 JPY of your bill INV-7, due on 2026-12-15, is still unpaid. Pay it in the app, or by bank transfer with the reference INV-7. They are switched back on once it is paid.',
    });
    expect(text(notice({ notice: 'RESTORED', amountDue: '0', linesResumed: 2 }))).toEqual({
      subject: 'Your lines are back on',
      content: 'We received the payment of your bill INV-7: nothing more is due on it. Your lines are switched back on.',
    });
    // Another unpaid bill still holds them: no promise that they are back.
    expect(text(notice({ notice: 'RESTORED', amountDue: '0', linesResumed: 0 }))).toEqual({
      subject: 'Your bill INV-7 is paid',
      content: 'We received the payment of your bill INV-7: nothing more is due on it.',
    });
  });

  it('an event it cannot read is refused with the reason; a plan rule naming a dunning template gets plain text', () => {
    expect(notice({ notice: 'SHOUT' })).toEqual({ invalid: 'data.notice "SHOUT" is not REMINDER, FINAL_NOTICE, BARRED or RESTORED' });
    expect(notice({ number: undefined })).toEqual({ invalid: 'data.number is missing' });
    expect(notice({ currency: 'XXX' })).toEqual({ invalid: 'data.currency "XXX" is not a currency we bill in' });
    expect(notice({ amountDue: '12,00' })).toEqual({ invalid: 'data.amountDue "12,00" is not a decimal' });
    expect(composeMessage('DUNNING_REMINDER', { period: '2026-11-15' }).content).toBe('Notice DUNNING_REMINDER for 2026-11-15.');
  });
});
