import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, allocate, dec, isCurrencyCode, minorUnits, money, round, subtract, sum } from './money';
import { DomainError } from './errors';

const cents = fc.bigInt({ min: -10_000_000_00n, max: 10_000_000_00n }).map((c) => {
  const negative = c < 0n;
  const abs = negative ? -c : c;
  const text = `${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
  return negative ? `-${text}` : text;
});
const ratio = fc.integer({ min: 0, max: 1000 }).map(String);

describe('money', () => {
  it('adds exactly where floats do not', () => {
    expect(add(money('0.1', 'EUR'), money('0.2', 'EUR')).amount).toBe('0.3');
  });

  it('refuses to mix currencies', () => {
    expect(() => add(money('1', 'EUR'), money('1', 'USD'))).toThrowError(DomainError);
  });

  it('refuses amounts that are not decimal strings', () => {
    expect(() => money('1e3', 'EUR')).toThrow(/not a decimal/);
    expect(() => money('12,50', 'EUR')).toThrow(/not a decimal/);
  });

  it('rounds with a named mode', () => {
    expect(round(money('2.345', 'EUR'), 'HALF_EVEN').amount).toBe('2.34');
    expect(round(money('2.345', 'EUR'), 'HALF_UP').amount).toBe('2.35');
    expect(round(money('2.355', 'EUR'), 'HALF_EVEN').amount).toBe('2.36');
    expect(round(money('-2.345', 'EUR'), 'FLOOR').amount).toBe('-2.35');
    expect(round(money('7.5', 'JPY')).amount).toBe('8');
  });

  it('allocation always sums back to the total, exactly', () => {
    fc.assert(
      fc.property(cents, fc.array(ratio, { minLength: 1, maxLength: 12 }).filter((r) => r.some((x) => x !== '0')), (amount, ratios) => {
        const parts = allocate(money(amount, 'EUR'), ratios);
        expect(parts).toHaveLength(ratios.length);
        expect(dec(sum(parts, 'EUR').amount).equals(dec(amount))).toBe(true);
        // No part is more than one cent away from its exact share.
        const total = ratios.reduce((a, r) => a.plus(dec(r)), dec('0'));
        parts.forEach((p, i) => {
          const exact = dec(amount).times(dec(ratios[i]!)).dividedBy(total);
          expect(dec(p.amount).minus(exact).abs().lessThan(dec('0.01'))).toBe(true);
        });
      }),
    );
  });

  it('allocates three ways with the remainder cent going to the first part', () => {
    expect(allocate(money('10.00', 'EUR'), ['1', '1', '1']).map((m) => m.amount)).toEqual(['3.34', '3.33', '3.33']);
  });

  it('subtraction is the inverse of addition', () => {
    fc.assert(
      fc.property(cents, cents, (a, b) => {
        expect(dec(subtract(add(money(a, 'USD'), money(b, 'USD')), money(b, 'USD')).amount).equals(dec(a))).toBe(true);
      }),
    );
  });

  it('knows the minor units of every ISO 4217 currency it accepts, with ISO exponents (not CLDR display digits)', () => {
    // Every code the CurrencyCode scalar and the plan validator accept must be roundable.
    for (const code of ['CAD', 'AUD', 'CZK', 'MXN', 'HUF', 'TRY', 'EUR']) expect([code, minorUnits(code)]).toEqual([code, 2]);
    for (const code of ['JPY', 'KRW', 'ISK', 'CLP', 'VND', 'XOF']) expect([code, minorUnits(code)]).toEqual([code, 0]);
    // ISO 4217 and CLDR disagree here; billing follows ISO.
    for (const code of ['IQD', 'KWD', 'BHD', 'TND', 'LYD', 'JOD', 'OMR']) expect([code, minorUnits(code)]).toEqual([code, 3]);
    for (const code of ['ALL', 'LBP', 'IDR', 'RSD']) expect([code, minorUnits(code)]).toEqual([code, 2]);
    // Every currency Intl knows is either billable (with minor units) or refused by isCurrencyCode.
    for (const code of Intl.supportedValuesOf('currency')) {
      if (isCurrencyCode(code)) expect(Number.isInteger(minorUnits(code)), code).toBe(true);
      else expect(() => minorUnits(code), code).toThrow(DomainError);
    }
  });

  it('refuses codes that are not currencies one can bill in: test, metals, units of account, withdrawn', () => {
    for (const code of ['XXX', 'XTS', 'XAU', 'XDR', 'HRK', 'ABC', 'eur', 'EURO']) {
      expect([code, isCurrencyCode(code)]).toEqual([code, false]);
    }
    expect(() => minorUnits('XXX')).toThrow(DomainError);
  });
});
