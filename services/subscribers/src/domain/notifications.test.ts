import { describe, expect, it } from 'vitest';
import { accountParams, composeMessage, retryDelaySeconds, routeMessage, triggerFromEvent, type NotificationTrigger } from './notifications';

const usageEvent = (data: Record<string, unknown>) => ({ id: 'evt_1', type: 'UsageNotificationEvent', data });
const trigger = (t: Partial<NotificationTrigger> = {}): NotificationTrigger => ({ eventType: 'X', eventId: 'evt_1', billingAccountId: 'acc_1', lineId: 'lin_1', template: 'DATA_80_PERCENT', preferredChannel: 'SMS', params: {}, ...t });
const contacts = { customerId: 'cus_1', email: 'ana@example.com', phone: '+491700000001', msisdn: '+491700000009' };

describe('customer notifications', () => {
  it("turns a plan's notify rule event into a trigger with the rule's channel and threshold", () => {
    const r = triggerFromEvent('usageNotification', usageEvent({ billingAccountId: 'acc_1', lineId: 'lin_1', template: 'DATA_80_PERCENT', channel: 'sms', threshold: '0.8', allowanceId: 'data', period: '2026-11-15', periodStart: '2026-11-15T09:30:00.000Z', periodEnd: '2026-12-15T09:30:00.000Z' }));
    expect(r).toEqual({ trigger: { eventType: 'UsageNotificationEvent', eventId: 'evt_1', billingAccountId: 'acc_1', lineId: 'lin_1', template: 'DATA_80_PERCENT', preferredChannel: 'SMS', params: { period: '2026-11-15', renews: '2026-12-15', allowance: 'data', percent: '80' } } });
  });

  it('reports what is missing instead of guessing', () => {
    expect(triggerFromEvent('usageNotification', usageEvent({ lineId: 'lin_1', template: 'T' }))).toEqual({ invalid: 'data.billingAccountId is missing' });
    expect(triggerFromEvent('usageNotification', usageEvent({ billingAccountId: 'acc_1' }))).toEqual({ invalid: 'data.template is missing' });
  });

  it('words thresholds, balances and expiry', () => {
    expect(composeMessage('DATA_80_PERCENT', { allowance: 'data', period: '2026-11-15', renews: '2026-12-15' }).content).toBe('You have used 80% of your data allowance for the period from 2026-11-15. It renews on 2026-12-15.');
    expect(composeMessage('DATA_80_PERCENT', { allowance: 'data', period: '2026-11-15' }).content).toBe('You have used 80% of your data allowance for the period from 2026-11-15.');
    expect(composeMessage('DATA_100_PERCENT', { allowance: 'data', period: '2026-11-15' }).subject).toBe('Your data allowance is used up');
    const low = triggerFromEvent('balanceLow', { id: 'e', type: 'BalanceThresholdEvent', data: { billingAccountId: 'acc_1', balance: { amount: '1.5', currency: 'EUR' }, threshold: { amount: '2', currency: 'EUR' } } });
    expect('trigger' in low && composeMessage(low.trigger.template, low.trigger.params).content).toBe('Your balance is 1.50 EUR, below 2.00 EUR. Top up to keep using the service.');
    expect(composeMessage('SOMETHING_NEW', { period: '2026-11-15' }).content).toBe('Notice SOMETHING_NEW for 2026-11-15.');
  });

  it('a spend alert: JPY in whole yen, what was spent rounded down, the period as local days; a plan rule naming SPEND_ALERT gets plain text', () => {
    const r = triggerFromEvent('usageNotification', usageEvent({ billingAccountId: 'acc_1', lineId: null, template: 'SPEND_ALERT', period: '2026-11-01', periodStart: '2026-10-31T15:00:00.000Z', periodEnd: '2026-11-30T15:00:00.000Z', alertAmount: '5000', spent: '5000.9', currency: 'JPY' }));
    expect('trigger' in r && r.trigger.lineId).toBeNull();
    const text = 'trigger' in r ? composeMessage(r.trigger.template, { ...accountParams({ timezone: 'Asia/Tokyo' }), ...r.trigger.params }) : undefined;
    expect(text).toEqual({ subject: 'Your usage charges reached 5000 JPY', content: expect.stringMatching(/^Your usage charges for the bill period from 2026-11-01 to 2026-11-30 are 5000 JPY so far, reaching the 5000 JPY alert you set\./) });
    expect(composeMessage('SPEND_ALERT', { period: '2026-11-01' }).content).toBe('Notice SPEND_ALERT for 2026-11-01.');
  });

  it('an issued bill: local days of the account, JPY in whole yen; an event it cannot read is refused, and a plan rule naming the template gets plain text', () => {
    const bill = (data: Record<string, unknown>) => triggerFromEvent('billIssued', { id: 'e', type: 'CustomerBillCreateEvent', data: { billingAccountId: 'acc_1', number: 'INV-7', currency: 'JPY', total: '4800', periodStart: '2026-10-31T15:00:00.000Z', periodEnd: '2026-11-30T15:00:00.000Z', dueDate: '2026-12-14T16:00:00.000Z', ...data } });
    const r = bill({});
    expect('trigger' in r && r.trigger).toMatchObject({ lineId: null, template: 'BILL_ISSUED', params: { invoiceNumber: 'INV-7', paymentReference: 'INV-7' } });
    const text = 'trigger' in r ? composeMessage('BILL_ISSUED', { ...accountParams({ timezone: 'Asia/Tokyo', autopayToken: null }), ...r.trigger.params }) : null;
    expect(text).toEqual({ subject: 'Your bill INV-7 is ready', content: 'Your bill INV-7 for 2026-11-01 to 2026-11-30 is 4800 JPY, due on 2026-12-15. Pay it in the app, or by bank transfer with the reference INV-7.' });
    expect(bill({ number: undefined })).toEqual({ invalid: 'data.number is missing' });
    expect(bill({ total: '12,00' })).toEqual({ invalid: 'data.total "12,00" is not a decimal' });
    expect(bill({ currency: 'XXX' })).toEqual({ invalid: 'data.currency "XXX" is not a currency we bill in' });
    expect(composeMessage('BILL_ISSUED', { period: '2026-11-15' }).content).toBe('Notice BILL_ISSUED for 2026-11-15.');
  });

  it('tells the line whose prepaid bundle its balance could not pay for', () => {
    const r = triggerFromEvent('bundleFeeDue', { id: 'e', type: 'BalanceThresholdEvent', data: { billingAccountId: 'acc_1', lineId: 'lin_1', fee: { amount: '15.000000', currency: 'EUR' }, balance: { amount: '10', currency: 'EUR' } } });
    expect('trigger' in r && r.trigger).toMatchObject({ lineId: 'lin_1', template: 'BUNDLE_FEE_DUE' });
    expect('trigger' in r && composeMessage(r.trigger.template, r.trigger.params).content).toBe('Your bundle costs 15.00 EUR and your balance is 10.00 EUR: top up and it starts within a minute.');
  });

  it('tells the line whose one-off charge (the starter pack) waits for a top-up', () => {
    const r = triggerFromEvent('chargeDue', { id: 'e', type: 'BalanceThresholdEvent', data: { billingAccountId: 'acc_1', lineId: 'lin_1', description: 'Activation of +4915111000001', amount: { amount: '4.950000', currency: 'EUR' }, balance: { amount: '0', currency: 'EUR' } } });
    expect('trigger' in r && r.trigger).toMatchObject({ lineId: 'lin_1', template: 'CHARGE_DUE' });
    expect('trigger' in r && composeMessage(r.trigger.template, r.trigger.params).content).toBe('Activation of +4915111000001: 4.95 EUR is due and your balance is 0.00 EUR. Your next top-up pays it first.');
  });

  it("sends on the rule's channel to the line's number, and to the webhook when one is registered", () => {
    expect(routeMessage(trigger(), { sms: true, email: true, push: false, webhookUrl: 'https://hooks.example/x' }, contacts)).toEqual([
      { channel: 'SMS', receiver: '+491700000009' },
      { channel: 'WEBHOOK', receiver: 'https://hooks.example/x' },
    ]);
  });

  it('falls back to every channel the customer allows when the rule channel is opted out, and to none when all are', () => {
    expect(routeMessage(trigger(), { sms: false, email: true, push: true, webhookUrl: null }, contacts)).toEqual([
      { channel: 'EMAIL', receiver: 'ana@example.com' },
      { channel: 'PUSH', receiver: 'customer:cus_1' },
    ]);
    expect(routeMessage(trigger(), { sms: false, email: false, push: false, webhookUrl: null }, contacts)).toEqual([]);
    expect(routeMessage(trigger({ preferredChannel: null }), { sms: true, email: false, push: false, webhookUrl: null }, { ...contacts, msisdn: null })).toEqual([{ channel: 'SMS', receiver: '+491700000001' }]);
  });

  it('backs off exponentially and gives up after the last attempt', () => {
    expect([1, 2, 3, 5].map((n) => retryDelaySeconds(n))).toEqual([5, 10, 20, 80]);
    expect(retryDelaySeconds(6)).toBeNull();
  });
});
