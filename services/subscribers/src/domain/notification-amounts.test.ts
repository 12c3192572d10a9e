/**
 * Amounts in every notification text that carries money (LOW_BALANCE, BALANCE_DEPLETED,
 * BUNDLE_FEE_DUE, CHARGE_DUE) use the currency's minor unit; balances are floored so a balance
 * below a threshold never reads as the threshold.
 */
import { describe, expect, it } from 'vitest';
import { composeMessage, triggerFromEvent } from './notifications';

const text = (kind: Parameters<typeof triggerFromEvent>[0], data: Record<string, unknown>) => {
  const r = triggerFromEvent(kind, { id: 'evt_1', type: 'Event', data: { billingAccountId: 'acc_1', lineId: 'lin_1', ...data } });
  if (!('trigger' in r)) throw new Error(r.invalid);
  return composeMessage(r.trigger.template, r.trigger.params).content;
};
const m = (amount: string, currency: string) => ({ amount, currency });

describe('money in notification texts', () => {
  it('LOW_BALANCE: a sub-cent balance just below the threshold is not rounded up to it', () => {
    expect(text('balanceLow', { balance: m('4.996000', 'EUR'), threshold: m('5.000000', 'EUR') })).toBe('Your balance is 4.99 EUR, below 5.00 EUR. Top up to keep using the service.');
  });

  it('BALANCE_DEPLETED, BUNDLE_FEE_DUE and CHARGE_DUE use the currency digits', () => {
    expect(text('balanceDepleted', { balance: m('0.000000', 'KWD') })).toBe('Your balance is used up (0.000 KWD); chargeable service stops until you top up.');
    expect(text('bundleFeeDue', { fee: m('1500.000000', 'JPY'), balance: m('480.000000', 'JPY') })).toBe('Your bundle costs 1500 JPY and your balance is 480 JPY: top up and it starts within a minute.');
    expect(text('chargeDue', { description: 'SIM replacement', amount: m('2.500000', 'JOD'), balance: m('1.250000', 'JOD') })).toBe('SIM replacement: 2.500 JOD is due and your balance is 1.250 JOD. Your next top-up pays it first.');
  });

  it('an amount in a currency we do not bill in is printed as sent, not dropped or failed', () => {
    expect(text('balanceLow', { balance: m('4.50', 'XXX'), threshold: m('5', 'XXX') })).toBe('Your balance is 4.5 XXX, below 5 XXX. Top up to keep using the service.');
  });
});
