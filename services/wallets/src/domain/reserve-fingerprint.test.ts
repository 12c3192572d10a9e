import { describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import { reserveFingerprint, reserveValiditySeconds } from './reserve-fingerprint';

const base: WalletReserveRequest = {
  requestId: 'req_1', sessionId: 'ses_1', billingAccountId: 'acc_1', lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB',
  requestedUnits: '5', pricePerUnit: '0.10', allowanceIds: ['data'], allowOverdraft: false,
};

describe('reserveFingerprint', () => {
  it('is short and the same for the same request written otherwise (decimals, absent defaults, requestId aside)', () => {
    const f = reserveFingerprint(base);
    expect(f).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const { allowOverdraft: _o, ...noOverdraft } = base;
    expect(reserveFingerprint({ ...noOverdraft, requestId: 'req_other', requestedUnits: '5.000', pricePerUnit: '0.1', validitySeconds: 300, zone: null })).toBe(f);
    expect(reserveFingerprint({ ...base, allowanceIds: [] })).toBe(reserveFingerprint({ ...base, allowanceIds: undefined as never }));
    expect(reserveFingerprint({ ...base, validitySeconds: 0 })).toBe(f); // 0 is the default, as reserve reads it
  });

  it.each<[keyof WalletReserveRequest, unknown]>([
    ['sessionId', 'ses_2'], ['billingAccountId', 'acc_2'], ['lineId', undefined], ['currency', 'USD'], ['usageType', 'VOICE'], ['unit', 'KB'],
    ['requestedUnits', '5.000001'], ['pricePerUnit', '0.1000000001'], ['allowanceIds', []], ['allowanceIds', ['data', 'bonus']], ['allowOverdraft', true],
    ['validitySeconds', 60], ['zone', 'ROAMING_EU'],
  ])('changes with %s', (field, value) => expect(reserveFingerprint({ ...base, [field]: value })).not.toBe(reserveFingerprint(base)));

  it('keeps the order of allowanceIds (buckets are drawn in that order)', () => {
    expect(reserveFingerprint({ ...base, allowanceIds: ['a', 'b'] })).not.toBe(reserveFingerprint({ ...base, allowanceIds: ['b', 'a'] }));
  });
});

describe('reserveValiditySeconds', () => {
  it.each([[undefined, 300], [null, 300], [0, 300], [60, 60], [-5, 1], [100_000, 86_400], ['x', 300]])('%s → %s', (input, out) => expect(reserveValiditySeconds(input)).toBe(out));
});
