import { describe, expect, it } from 'vitest';
import type { ChargeRequest } from '@ledgerline/contracts';
import { canonicalDecimal, chargeFingerprint } from './charge-fingerprint';

const base: ChargeRequest = {
  chargeId: 'chg_1', billingAccountId: 'acc_1', lineId: 'lin_1', paymentMode: 'PREPAID', currency: 'EUR', usageType: 'DATA',
  occurredAt: '2026-11-25T10:00:00Z', units: '2', unit: 'MB', allowanceIds: ['data'], pricePerUnit: '0.10', allowOverdraft: false,
};

describe('canonicalDecimal', () => {
  it.each([
    ['1', '1'], ['1.0', '1'], ['1.000000', '1'], ['01.50', '1.5'], ['0', '0'], ['0.0', '0'], ['-0.00', '0'], ['-1.50', '-1.5'], ['100', '100'], ['0.0001000', '0.0001'],
  ])('%s → %s', (input, out) => expect(canonicalDecimal(input)).toBe(out));

  it('leaves what is not a decimal as it is (so it never meets a decimal), and absent as null', () => {
    for (const odd of ['', '1.', '.5', '1e3', 'abc', ' 1']) expect(canonicalDecimal(odd)).toBe(odd);
    expect(canonicalDecimal(3)).toBe(3);
    expect(canonicalDecimal(undefined)).toBeNull();
  });
});

describe('chargeFingerprint', () => {
  it('is short and the same for the same charge written otherwise (decimals, time, absent defaults, chargeId aside)', () => {
    const f = chargeFingerprint(base);
    expect(f).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(chargeFingerprint({ ...base, chargeId: 'chg_other', units: '2.0', pricePerUnit: '0.1', occurredAt: '2026-11-25T10:00:00.000Z', kind: 'USAGE', zone: null, adjustsInvoiceId: null, usageRecordId: null, amount: undefined })).toBe(f);
  });

  it.each([
    ['billingAccountId', 'acc_2'], ['lineId', 'lin_2'], ['paymentMode', 'POSTPAID'], ['currency', 'USD'], ['usageType', 'VOICE'],
    ['occurredAt', '2026-11-25T10:00:01Z'], ['units', '3'], ['unit', 'KB'], ['allowanceIds', []], ['pricePerUnit', '0.11'],
    ['amount', '0.200000'], ['kind', 'ADJUSTMENT'], ['allowOverdraft', true], ['zone', 'ROAMING_EU'], ['adjustsInvoiceId', 'inv_1'], ['usageRecordId', 'usg_1'],
  ])('changes with %s', (field, value) => {
    expect(chargeFingerprint({ ...base, [field]: value } as ChargeRequest)).not.toBe(chargeFingerprint(base));
  });

  it('tells a number from its string (a malformed request is not the valid one)', () => {
    expect(chargeFingerprint({ ...base, units: 2 as unknown as string })).not.toBe(chargeFingerprint(base));
  });
});
