/**
 * A rerate ADJUSTMENT that moves allowance units (ADR 0019): decideCharge with `moves`.
 */
import { describe, expect, it } from 'vitest';
import { Decimal, type ChargeRequest } from '@ledgerline/contracts';
import { decideCharge, invalidCharge, toChargeInput, type BucketState, type ChargeInput, type WalletState } from './charging';
import { chargeFingerprint } from './charge-fingerprint';

const d = (v: string) => new Decimal(v);
const at = new Date('2026-06-01');
const wallet = (over: Partial<WalletState> = {}): WalletState => ({ id: 'w', billingAccountId: 'a', currency: 'EUR', paymentMode: 'POSTPAID', balance: d('0'), unbilled: d('49'), creditLimit: d('150'), overdraftLimit: d('0'), ...over });
const bucket = (id: string, initial: string, remaining: string, over: Partial<BucketState> = {}): BucketState => ({
  id, billingAccountId: 'a', lineId: 'l', allowanceId: 'data', unit: 'MB', priority: 1, validFrom: new Date('2026-05-15'), validTo: new Date('2026-06-15'), carriedFrom: null, initial: d(initial), remaining: d(remaining), ...over,
});
/** An adjustment as usage's re-rate sends it: one ITEM at the money delta, and its moves. */
const adjustment = (delta: string, moves: { allowanceId?: string; units: string; uncoveredAmount?: string }[]): ChargeInput => ({
  lineId: 'l', at, units: d('1'), unit: 'ITEM', allowanceIds: [], pricePerUnit: d(delta), amount: d(delta), allowOverdraft: true,
  moves: moves.map((m) => ({ allowanceId: m.allowanceId ?? 'data', unit: 'MB', units: d(m.units), uncoveredAmount: d(m.uncoveredAmount ?? '0') })),
});
const figures = (x: ReturnType<typeof decideCharge>) => [x.outcome, x.unitsFromBuckets.toFixed(), x.amount.toFixed(), x.bucketParts.map((p) => [p.bucketId, p.units.toFixed()])];

describe('decideCharge: an adjustment that moves allowance units', () => {
  it('draws into the allowance: the bucket gives the units, the money is the credit', () => {
    const w = wallet();
    const b = bucket('b', '20480', '20480');
    // 100 MB of roaming priced 49.00 now come out of the bundle.
    expect(figures(decideCharge(w, [b], adjustment('-49', [{ units: '100', uncoveredAmount: '49' }])))).toEqual(['APPLIED', '100', '-49', [['b', '100']]]);
    expect([b.remaining.toFixed(), w.unbilled.toFixed()]).toEqual(['20380', '0']);
  });

  it('a bucket that no longer holds the units: it gives what it has, the rest is money at the corrected price', () => {
    const w = wallet();
    const b = bucket('b', '20480', '30');
    // 70 MB not covered: 49.00 x 70 / 100 = 34.30 on top of the -49 credit.
    expect(figures(decideCharge(w, [b], adjustment('-49', [{ units: '100', uncoveredAmount: '49' }])))).toEqual(['APPLIED', '30', '-14.7', [['b', '30']]]);
    expect([b.remaining.toFixed(), w.unbilled.toFixed()]).toEqual(['0', '34.3']);
    // No bucket of the event's time at all (a renewal's bucket does not serve it): all of it is money, no credit.
    const renewed = bucket('n', '20480', '20480', { validFrom: new Date('2026-06-15'), validTo: new Date('2026-07-15') });
    expect(figures(decideCharge(wallet(), [renewed], adjustment('-49', [{ units: '100', uncoveredAmount: '49' }])))).toEqual(['APPLIED', '0', '0', []]);
    expect(renewed.remaining.toFixed()).toBe('20480');
  });

  it('gives back out of the allowance: the bucket takes the units back, the money is the overage', () => {
    const w = wallet({ unbilled: d('0') });
    const b = bucket('b', '20480', '20380');
    expect(figures(decideCharge(w, [b], adjustment('1', [{ units: '-100' }])))).toEqual(['APPLIED', '-100', '1', [['b', '-100']]]);
    expect([b.remaining.toFixed(), w.unbilled.toFixed()]).toEqual(['20480', '1']);
  });

  it('gives back at most what each bucket used; the rest is lost, the money stays as asked', () => {
    const w = wallet({ unbilled: d('0') });
    // Only 40 MB used of it (a rollover moved the rest away, or it was granted again): never above its initial units.
    const b = bucket('b', '100', '60');
    expect(figures(decideCharge(w, [b], adjustment('1', [{ units: '-100' }])))).toEqual(['APPLIED', '-40', '1', [['b', '-40']]]);
    expect(b.remaining.toFixed()).toBe('100');
    // A bucket with nothing left still takes units back (a draw skips it).
    const empty = bucket('e', '100', '0');
    expect(figures(decideCharge(wallet(), [empty], adjustment('0.5', [{ units: '-50' }])))).toEqual(['APPLIED', '-50', '0.5', [['e', '-50']]]);
  });

  it('gives back at most what the bucket used, not the units a session holds of it or a renewal carried away (review 19)', () => {
    // 100 MB: 10 used, 60 held by an open session, 30 left. Taking back initial - remaining (70) took back held units as if used.
    const held = bucket('h', '100', '30', { used: d('10') });
    expect(figures(decideCharge(wallet({ unbilled: d('0') }), [held], adjustment('0.3', [{ units: '-30' }])))).toEqual(['APPLIED', '-10', '0.3', [['h', '-10']]]);
    expect([held.remaining.toFixed(), held.used?.toFixed()]).toEqual(['40', '10']);
    // Two give-backs to it in one adjustment: the second finds what the first took back already.
    const twice = bucket('t', '100', '30', { used: d('10') });
    const moves = adjustment('0', [{ units: '-6' }, { units: '-6' }]);
    expect(figures(decideCharge(wallet({ unbilled: d('0') }), [twice], moves))).toEqual(['APPLIED', '-10', '0', [['t', '-6'], ['t', '-4']]]);
  });

  it('gives back before it draws: a record moved from one allowance to another', () => {
    const w = wallet({ unbilled: d('0') });
    const data = bucket('d', '100', '0');
    const roam = bucket('r', '50', '50', { allowanceId: 'roam' });
    const c = adjustment('0', [{ allowanceId: 'roam', units: '30', uncoveredAmount: '14.7' }, { allowanceId: 'data', units: '-30' }]);
    expect(figures(decideCharge(w, [data, roam], c))).toEqual(['APPLIED', '0', '0', [['d', '-30'], ['r', '30']]]);
    expect([data.remaining.toFixed(), roam.remaining.toFixed()]).toEqual(['30', '20']);
  });

  it('all or nothing: money past the credit limit denies it, and no unit moves', () => {
    const w = wallet({ unbilled: d('150') });
    const b = bucket('b', '100', '0');
    // Out of the allowance at +10.00 with nothing left under the limit.
    expect(decideCharge(w, [b], adjustment('10', [{ units: '-100' }]))).toMatchObject({ outcome: 'DENIED', reason: 'CREDIT_LIMIT_EXCEEDED', amount: d('0'), unitsFromBuckets: d('0'), bucketParts: [] });
    expect([b.remaining.toFixed(), w.unbilled.toFixed()]).toEqual(['0', '150']);
    // Into it, with a short bucket making the credit a charge past a prepaid balance: denied too.
    const p = wallet({ paymentMode: 'PREPAID', balance: d('0'), unbilled: d('0'), creditLimit: null });
    const short = bucket('s', '100', '10');
    expect(decideCharge(p, [short], { ...adjustment('-1', [{ units: '100', uncoveredAmount: '49' }]), allowOverdraft: false })).toMatchObject({ outcome: 'DENIED', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(short.remaining.toFixed()).toBe('10');
  });
});

describe('invalidCharge: allowanceMoves', () => {
  const base: ChargeRequest = { chargeId: 'c', billingAccountId: 'a', lineId: 'l', paymentMode: 'POSTPAID', currency: 'EUR', usageType: 'DATA', occurredAt: at.toISOString(), units: '1', unit: 'ITEM', allowanceIds: [], pricePerUnit: '-49', amount: '-49', kind: 'ADJUSTMENT', allowOverdraft: true };
  it('takes a draw with its price outside the allowance, and a give-back', () => {
    const ok = { ...base, allowanceMoves: [{ allowanceId: 'data', unit: 'MB', units: '100', uncoveredAmount: '49' }, { allowanceId: 'roam', unit: 'MB', units: '-100' }] };
    expect(invalidCharge(ok)).toBeNull();
    expect(toChargeInput(ok).moves?.map((m) => [m.allowanceId, m.units.toFixed(), m.uncoveredAmount.toFixed()])).toEqual([['data', '100', '49'], ['roam', '-100', '0']]);
  });
  it('refuses moves on a usage charge, a draw without its price, zero or malformed units, too many moves', () => {
    const move = { allowanceId: 'data', unit: 'MB', units: '100', uncoveredAmount: '49' };
    expect(invalidCharge({ ...base, kind: 'USAGE', pricePerUnit: '1', amount: '1', allowanceMoves: [move] })).toMatch(/ADJUSTMENT only/);
    expect(invalidCharge({ ...base, allowanceMoves: [{ ...move, uncoveredAmount: undefined }] })).toMatch(/uncoveredAmount/);
    expect(invalidCharge({ ...base, allowanceMoves: [{ ...move, uncoveredAmount: '-1' }] })).toMatch(/uncoveredAmount/);
    expect(invalidCharge({ ...base, allowanceMoves: [{ ...move, units: '0' }] })).toMatch(/non-zero/);
    expect(invalidCharge({ ...base, allowanceMoves: [{ ...move, units: '1.1234567' }] })).toMatch(/units/);
    expect(invalidCharge({ ...base, allowanceMoves: [{ ...move, allowanceId: '' }] })).toMatch(/allowanceId/);
    expect(invalidCharge({ ...base, allowanceMoves: Array.from({ length: 5 }, () => move) })).toMatch(/at most 4/);
    expect(invalidCharge({ ...base, allowanceMoves: 'data' as never })).toMatch(/list/);
  });
});

describe('chargeFingerprint: allowanceMoves', () => {
  const base: ChargeRequest = { chargeId: 'c', billingAccountId: 'a', lineId: 'l', paymentMode: 'POSTPAID', currency: 'EUR', usageType: 'DATA', occurredAt: at.toISOString(), units: '1', unit: 'ITEM', allowanceIds: [], pricePerUnit: '-49', amount: '-49', kind: 'ADJUSTMENT', allowOverdraft: true };
  const move = { allowanceId: 'data', unit: 'MB', units: '100', uncoveredAmount: '49' };
  it('a charge without moves keeps the fingerprint it was stored with', () => {
    expect(chargeFingerprint({ ...base, allowanceMoves: [] })).toBe(chargeFingerprint(base));
    expect(chargeFingerprint({ ...base, allowanceMoves: undefined })).toBe(chargeFingerprint(base));
  });
  it('the moves are part of the charge (another move is another charge), spelled either way', () => {
    const f = chargeFingerprint({ ...base, allowanceMoves: [move] });
    expect(f).not.toBe(chargeFingerprint(base));
    expect(chargeFingerprint({ ...base, allowanceMoves: [{ ...move, units: '100.000', uncoveredAmount: '49.0' }] })).toBe(f);
    for (const other of [{ ...move, units: '-100', uncoveredAmount: undefined }, { ...move, units: '90' }, { ...move, allowanceId: 'roam' }, { ...move, unit: 'KB' }, { ...move, uncoveredAmount: '48' }]) {
      expect(chargeFingerprint({ ...base, allowanceMoves: [other] })).not.toBe(f);
    }
  });
});
