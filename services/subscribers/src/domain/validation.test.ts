import { describe, expect, it } from 'vitest';
import { assertBillCycleDay, assertTimezone, normalizeMsisdn } from './validation';

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
  it('knows IANA time zones', () => {
    expect(assertTimezone('Europe/Berlin', 'tz')).toBe('Europe/Berlin');
    expect(() => assertTimezone('Mars/Olympus', 'tz')).toThrow(/IANA/);
  });
});
