import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from './errors';
import { dec, formatAmount, formatMoney, money, round } from './money';

describe('formatAmount: an amount as a customer reads it, in the currency minor unit', () => {
  it('prints exactly the currency digits: 3 for JOD/KWD, 0 for JPY/KRW, 2 for EUR', () => {
    expect(formatAmount('4.995000', 'JOD')).toBe('4.995 JOD');
    expect(formatAmount('5', 'KWD')).toBe('5.000 KWD');
    expect(formatAmount('480.000000', 'JPY')).toBe('480 JPY');
    expect(formatAmount('12000', 'KRW')).toBe('12000 KRW');
    expect(formatAmount('12.3', 'EUR')).toBe('12.30 EUR');
    expect(formatAmount('-3.5', 'EUR')).toBe('-3.50 EUR');
    expect(formatAmount(dec('7.25'), 'USD')).toBe('7.25 USD');
  });

  it('rounds once, HALF_EVEN by default (as invoice documents do), or with a named mode', () => {
    expect(formatAmount('2.345', 'EUR')).toBe('2.34 EUR');
    expect(formatAmount('2.345', 'EUR', 'HALF_UP')).toBe('2.35 EUR');
    expect(formatAmount('4.996', 'EUR', 'FLOOR')).toBe('4.99 EUR');
    expect(formatAmount('480.5', 'JPY')).toBe('480 JPY');
    expect(formatAmount('-0.004', 'EUR')).toBe('0.00 EUR');
  });

  it('is exact where a JS number is not', () => {
    // Number('1.005').toFixed(2) === '1.00' (1.005 is 1.00499999… as a double); HALF_UP of the decimal is 1.01.
    expect(formatAmount('1.005', 'EUR', 'HALF_UP')).toBe('1.01 EUR');
    expect(formatAmount('90071992547409.935', 'JOD')).toBe('90071992547409.935 JOD');
  });

  it('agrees with round() for every amount, and formatMoney with formatAmount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.constantFrom('EUR', 'JPY', 'JOD'), (micros, currency) => {
        const amount = dec(micros.toString()).dividedBy(1_000_000).toFixed();
        expect(formatAmount(amount, currency)).toBe(`${round(money(amount, currency)).amount.replace(/^-(0\.?0*)$/, '$1')} ${currency}`);
        expect(formatMoney(money(amount, currency))).toBe(formatAmount(amount, currency));
      }),
    );
  });

  it('refuses a currency we do not bill in and an amount that is not a decimal string', () => {
    expect(() => formatAmount('1', 'XXX')).toThrow(DomainError);
    expect(() => formatAmount('1e3', 'EUR')).toThrow(/not a decimal/);
  });
});
