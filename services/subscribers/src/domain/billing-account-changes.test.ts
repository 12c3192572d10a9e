import { describe, expect, it } from 'vitest';
import { autopayValue, creditLimitValue } from './billing-account-changes';

describe('values of the billing account audit trail', () => {
  it('records a credit limit as a plain decimal, null for none', () => {
    expect(creditLimitValue('500.0000')).toBe('500');
    expect(creditLimitValue('12.50')).toBe('12.5');
    expect(creditLimitValue('0')).toBe('0');
    expect(creditLimitValue(null)).toBeNull();
    expect(creditLimitValue(undefined)).toBeNull();
  });

  it('records an autopay token as a short fingerprint that contains no part of it', () => {
    const token = 'tok_visa_4Xk29fLq';
    const fp = autopayValue(token)!;
    expect(fp).toMatch(/^sha256:[0-9a-f]{8}$/);
    expect(autopayValue(token)).toBe(fp);
    expect(autopayValue('tok_mc_9Hd72kPq')).not.toBe(fp);
    expect(fp).not.toContain(token.slice(-4));
    expect(autopayValue(null)).toBeNull();
  });
});
