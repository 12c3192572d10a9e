import { describe, expect, it } from 'vitest';
import { assertBillCycleDay, assertCreditLimit, assertTimezone, normalizeMsisdn } from './validation';

describe('subscriber input validation', () => {
  it('normalizes a valid MSISDN to E.164', () => {
    expect(normalizeMsisdn('+49 151 23456789')).toBe('+4915123456789');
  });
  it.each(['12345', '+999', '004915123456789', 'abc', '+49151'])('rejects %s naming the field', (raw) => {
    expect(() => normalizeMsisdn(raw)).toThrowError(expect.objectContaining({ code: 'MSISDN_INVALID', details: { field: 'input.msisdn' } }));
  });
  it('accepts bill-cycle days 1..31 only', () => {
    expect(assertBillCycleDay(31)).toBe(31);
    expect(() => assertBillCycleDay(0)).toThrow(/1 to 31/);
    expect(() => assertBillCycleDay(32)).toThrow(/1 to 31/);
  });
  it("takes a credit limit no finer than the currency's minor unit and below 10^12", () => {
    expect(assertCreditLimit('2500.12', 'EUR')).toBe('2500.12');
    expect(assertCreditLimit('2500', 'JPY')).toBe('2500');
    expect(assertCreditLimit('2500.125', 'KWD')).toBe('2500.125');
    const refused = (value: string, currency: string) => {
      try {
        assertCreditLimit(value, currency);
        return 'accepted';
      } catch (e) {
        return (e as { code: string; details: unknown }).code;
      }
    };
    expect([refused('2500.1234567', 'EUR'), refused('2500.5', 'JPY'), refused('-1', 'EUR'), refused('1e3', 'EUR'), refused('1000000000000', 'EUR'), refused('999999999999.99', 'EUR')])
      .toEqual(['AMOUNT_PRECISION', 'AMOUNT_PRECISION', 'CREDIT_LIMIT_INVALID', 'CREDIT_LIMIT_INVALID', 'AMOUNT_TOO_LARGE', 'accepted']);
    expect(() => assertCreditLimit('1.001', 'EUR')).toThrowError(expect.objectContaining({ details: { field: 'input.creditLimit' } }));
  });
  it('knows IANA time zones', () => {
    expect(assertTimezone('Europe/Berlin', 'tz')).toBe('Europe/Berlin');
    expect(() => assertTimezone('Mars/Olympus', 'tz')).toThrow(/IANA/);
  });
});
