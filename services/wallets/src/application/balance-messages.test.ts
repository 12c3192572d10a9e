/**
 * Wallets' own LOW_BALANCE and AUTO_TOPUP_LIMIT notification texts print amounts in the
 * currency's minor unit (were `toFixed(2)` for every currency: "5.00 JOD, below 5.00 JOD" for a
 * 4.995 JOD balance, "480.00 JPY").
 */
import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { autoTopupLimitMessage, autoTopupStoppedMessage, lowBalanceMessage } from './balance-events';

describe('LOW_BALANCE text', () => {
  it('keeps a 3-decimal currency exact and gives a 0-decimal currency no decimals', () => {
    expect(lowBalanceMessage(new Decimal('4.995000'), new Decimal('5.000000'), 'JOD')).toBe('Your balance is 4.995 JOD, below 5.000 JOD. Top up to keep using the service.');
    expect(lowBalanceMessage(new Decimal('480.000000'), new Decimal('500.000000'), 'JPY')).toBe('Your balance is 480 JPY, below 500 JPY. Top up to keep using the service.');
    expect(lowBalanceMessage(new Decimal('4'), new Decimal('5'), 'EUR')).toBe('Your balance is 4.00 EUR, below 5.00 EUR. Top up to keep using the service.');
  });

  it('never shows a balance that fell below the threshold as the threshold (the balance is floored)', () => {
    expect(lowBalanceMessage(new Decimal('4.996'), new Decimal('5'), 'EUR')).toBe('Your balance is 4.99 EUR, below 5.00 EUR. Top up to keep using the service.');
    expect(lowBalanceMessage(new Decimal('499.6'), new Decimal('500'), 'JPY')).toBe('Your balance is 499 JPY, below 500 JPY. Top up to keep using the service.');
  });
});

describe('AUTO_TOPUP_LIMIT text', () => {
  it('prints the skipped top-up in the currency minor unit', () => {
    expect(autoTopupLimitMessage(new Decimal('10'), 'DAILY', 'KWD')).toBe('Automatic top-up of 10.000 KWD skipped: your daily limit is reached.');
    expect(autoTopupLimitMessage(new Decimal('3000'), 'MONTHLY', 'JPY')).toBe('Automatic top-up of 3000 JPY skipped: your monthly limit is reached.');
    expect(autoTopupLimitMessage(new Decimal('20.5'), 'DAILY', 'EUR')).toBe('Automatic top-up of 20.50 EUR skipped: your daily limit is reached.');
  });
});

describe('AUTO_TOPUP_STOPPED text', () => {
  it('says how many top-ups were made and the balance (floored) still below the threshold, in the minor unit', () => {
    expect(autoTopupStoppedMessage(10, new Decimal('49.996'), new Decimal('100'), 'EUR')).toBe('Automatic top-up stopped after 10 top-ups in a row: your balance is 49.99 EUR, still below 100.00 EUR. Top up to keep using the service.');
    expect(autoTopupStoppedMessage(10, new Decimal('4000'), new Decimal('5000'), 'JPY')).toBe('Automatic top-up stopped after 10 top-ups in a row: your balance is 4000 JPY, still below 5000 JPY. Top up to keep using the service.');
  });
});
