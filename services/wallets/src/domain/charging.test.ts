import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { decideCharge, invalidCharge, type BucketState, type WalletState } from './charging';
import type { ChargeRequest } from '@ledgerline/contracts';
import { crossedBucketThresholds } from './thresholds';
import { MAX_REQUESTS_PER_CROSSING, decideTopup, followUpDecision } from './auto-topup';

const d = (v: string) => new Decimal(v);
const wallet = (over: Partial<WalletState> = {}): WalletState => ({ id: 'w', billingAccountId: 'a', currency: 'EUR', paymentMode: 'PREPAID', balance: d('1'), unbilled: d('0'), creditLimit: null, overdraftLimit: d('0'), ...over });
const bucket = (id: string, remaining: string, priority: number, lineId: string | null = null): BucketState => ({ id, billingAccountId: 'a', lineId, allowanceId: 'data', unit: 'MB', priority, validFrom: new Date('2026-01-01'), validTo: new Date('2027-01-01'), carriedFrom: null, initial: d('100'), remaining: d(remaining) });
const at = new Date('2026-06-01');

describe('decideCharge', () => {
  it('a tiered price (an average per unit that does not end after 6 places) is charged exactly as rated; pro rata when a bucket covers part', () => {
    // 1,500.3 MB rated at 12.621500 EUR over tiers: 0.0084126508… per MB.
    const c = { lineId: 'l', at, units: d('1500.3'), unit: 'MB', allowanceIds: ['data'], pricePerUnit: d('0.0084126508'), amount: d('12.6215'), allowOverdraft: false };
    expect(decideCharge(wallet({ balance: d('100') }), [], c).amount.toFixed()).toBe('12.6215');
    // A bucket covers a third: two thirds of the rated price, not 1000.2 x the average.
    const half = decideCharge(wallet({ balance: d('100') }), [bucket('b', '500.1', 1)], c);
    expect([half.unitsFromBuckets.toFixed(), half.amount.toFixed()]).toEqual(['500.1', '8.414333']);
    // A short balance: the units it pays for at the average price (down to the units' precision), priced pro rata, never past what is left.
    const short = decideCharge(wallet({ balance: d('5') }), [], c);
    expect([short.outcome, short.units.toFixed(), short.amount.toFixed()]).toEqual(['PARTIAL', '594.3', '4.999638']);
  });
  it('a rated amount with pricePerUnit 0 (priced per event) is cut by the amount, never to Infinity units', () => {
    // Review 7: 5.00 left, 10 units rated 20.00 at "0" per unit: room / 0 granted Infinity units.
    const c = { lineId: 'l', at, units: d('10'), unit: 'MB', allowanceIds: [], pricePerUnit: d('0'), amount: d('20'), allowOverdraft: false };
    const w = wallet({ balance: d('5') });
    const short = decideCharge(w, [], c);
    // 10 x 5 / 20 = 2.5, down to the units' precision (whole units): 2 units, priced pro rata 4.00.
    expect([short.outcome, short.units.toFixed(), short.amount.toFixed(), w.balance.toFixed()]).toEqual(['PARTIAL', '2', '4', '1']);
    // 10.5 units: 10.5 x 5 / 20 = 2.625, down to one place.
    expect(decideCharge(wallet({ balance: d('5') }), [], { ...c, units: d('10.5') }).units.toFixed()).toBe('2.6');
    expect(decideCharge(wallet({ balance: d('1') }), [], c)).toMatchObject({ outcome: 'DENIED', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(decideCharge(wallet({ balance: d('20') }), [], c)).toMatchObject({ outcome: 'APPLIED' });
    // Without an amount a zero price is free: nothing to cut.
    expect(decideCharge(wallet({ balance: d('0') }), [], { ...c, amount: undefined })).toMatchObject({ outcome: 'APPLIED' });
    // A zero-unit charge with an amount the balance cannot pay: nothing granted, nothing taken.
    expect(decideCharge(wallet({ balance: d('1') }), [], { ...c, units: d('0') })).toMatchObject({ outcome: 'DENIED' });
  });
  it('an ADJUSTMENT may be a credit (negative); a usage charge may not; prices have up to 10 places, amounts 6', () => {
    const base: ChargeRequest = { chargeId: 'c', billingAccountId: 'a', lineId: 'l', paymentMode: 'PREPAID', currency: 'EUR', usageType: 'DATA', occurredAt: at.toISOString(), units: '1', unit: 'ITEM', allowanceIds: [], pricePerUnit: '-1.5', amount: '-1.5', allowOverdraft: false };
    expect(invalidCharge({ ...base, kind: 'ADJUSTMENT' })).toBeNull();
    expect(invalidCharge(base)).toMatch(/pricePerUnit must be a non-negative decimal/);
    expect(invalidCharge({ ...base, pricePerUnit: '0.0084126508', amount: '12.6215' })).toBeNull();
    expect(invalidCharge({ ...base, pricePerUnit: '0.00841265081', amount: '12.6215' })).toMatch(/at most 10 places/);
    expect(invalidCharge({ ...base, pricePerUnit: '0.01', amount: '0.0000001' })).toMatch(/amount must be/);
    expect(invalidCharge({ ...base, kind: 'ADJUSTMENT', allowanceIds: ['data'] })).toMatch(/no allowance/);
    const w = wallet({ balance: d('2') });
    const credit = decideCharge(w, [], { lineId: 'l', at, units: d('1'), unit: 'ITEM', allowanceIds: [], pricePerUnit: d('-1.5'), amount: d('-1.5'), allowOverdraft: false });
    expect([credit.outcome, credit.amount.toFixed(), w.balance.toFixed()]).toEqual(['APPLIED', '-1.5', '3.5']);
  });
  it('takes buckets by priority (other lines’ buckets excluded), then money, cutting to what money is left', () => {
    const w = wallet({ balance: d('0.30') });
    const buckets = [bucket('low', '5', 9), bucket('high', '3', 1), bucket('other-line', '50', 0, 'lin_2')];
    const r = decideCharge(w, buckets, { lineId: 'lin_1', at, units: d('21'), unit: 'MB', allowanceIds: ['data'], pricePerUnit: d('0.025'), allowOverdraft: false });
    expect(r.bucketParts.map((p) => [p.bucketId, p.units.toFixed()])).toEqual([['high', '3'], ['low', '5']]);
    expect([r.outcome, r.units.toFixed(), r.amount.toFixed()]).toEqual(['PARTIAL', '20', '0.3']);
    expect(w.balance.toFixed()).toBe('0');
  });
  it('denies without touching buckets or balance when nothing can be granted', () => {
    const w = wallet({ balance: d('0') });
    const r = decideCharge(w, [], { lineId: 'l', at, units: d('1'), unit: 'MB', allowanceIds: [], pricePerUnit: d('0.1'), allowOverdraft: false });
    expect(r).toMatchObject({ outcome: 'DENIED', reason: 'WALLET_INSUFFICIENT_BALANCE' });
  });
  it('postpaid accrues within the credit limit', () => {
    const w = wallet({ paymentMode: 'POSTPAID', creditLimit: d('10'), unbilled: d('9.5') });
    const r = decideCharge(w, [], { lineId: 'l', at, units: d('3'), unit: 'MIN', allowanceIds: [], pricePerUnit: d('0.25'), allowOverdraft: false });
    expect([r.outcome, r.units.toFixed(), r.reason]).toEqual(['PARTIAL', '2', 'CREDIT_LIMIT_EXCEEDED']);
    expect(w.unbilled.toFixed()).toBe('10');
  });
  it('a late event of a rolled-over period: the ending bucket first, then the units carried from it; the next period\'s own never', () => {
    const [ending, next] = [new Date('2026-05-01'), new Date('2026-06-01')];
    const period = (id: string, remaining: string, priority: number, from: Date, carriedFrom: string | null = null): BucketState => ({ ...bucket(id, remaining, priority), validFrom: from, validTo: new Date(from.getTime() + 31 * 86_400_000), carriedFrom });
    const buckets = [period('own-next', '100', 100, next), period('rollover', '50', 50, next, 'ending'), period('ending', '20', 100, ending)];
    const late = decideCharge(wallet({ balance: d('0') }), buckets, { lineId: 'l', at: new Date('2026-05-31'), units: d('60'), unit: 'MB', allowanceIds: ['data'], pricePerUnit: d('1'), allowOverdraft: false });
    expect(late.bucketParts.map((p) => [p.bucketId, p.units.toFixed()])).toEqual([['ending', '20'], ['rollover', '40']]);
    // In the new period the carried units still go first (priority 50).
    const now = decideCharge(wallet({ balance: d('0') }), buckets, { lineId: 'l', at: new Date('2026-06-02'), units: d('15'), unit: 'MB', allowanceIds: ['data'], pricePerUnit: d('1'), allowOverdraft: false });
    expect(now.bucketParts.map((p) => [p.bucketId, p.units.toFixed()])).toEqual([['rollover', '10'], ['own-next', '5']]);
    // Once the ending bucket has expired (not among the active buckets), its period's late usage is money.
    const afterGrace = decideCharge(wallet({ balance: d('5') }), buckets.filter((b) => b.id !== 'ending'), { lineId: 'l', at: new Date('2026-05-31'), units: d('1'), unit: 'MB', allowanceIds: ['data'], pricePerUnit: d('1'), allowOverdraft: false });
    expect([afterGrace.unitsFromBuckets.toFixed(), afterGrace.amount.toFixed()]).toEqual(['0', '1']);
  });
});

describe('thresholds and auto top-up', () => {
  it('reports each bucket threshold once', () => {
    expect(crossedBucketThresholds(d('100'), d('60'), d('10'), 0)).toEqual([50, 80]);
    expect(crossedBucketThresholds(d('100'), d('10'), d('0'), 80)).toEqual([100]);
    expect(crossedBucketThresholds(d('100'), d('60'), d('55'), 0)).toEqual([]);
    // Exactly on a threshold counts; already told of 100 % → nothing more.
    expect(crossedBucketThresholds(d('3'), d('3'), d('0.6'), 0)).toEqual([50, 80]);
    expect(crossedBucketThresholds(d('3'), d('0.6'), d('0.599999'), 80)).toEqual([]);
    expect(crossedBucketThresholds(d('3'), d('0.6'), d('0'), 100)).toEqual([]);
  });
  it('tops up to the target within the daily limit', () => {
    const rule = { enabled: true, threshold: d('5'), topupAmount: null, targetBalance: d('20'), paymentMethodToken: 't', dailyLimit: d('30'), monthlyLimit: null, currency: 'EUR' };
    expect(decideTopup(rule, d('6'), d('4'), d('0'), d('0'))).toEqual({ kind: 'REQUEST', amount: d('16') });
    expect(decideTopup(rule, d('6'), d('4'), d('20'), d('20'))).toMatchObject({ kind: 'LIMIT_REACHED', limit: 'DAILY' });
    expect(decideTopup(rule, d('4'), d('3'), d('0'), d('0'))).toEqual({ kind: 'NONE' });
    // A crossing while a request is still waiting for its money asks nothing more.
    expect(decideTopup(rule, d('6'), d('4'), d('0'), d('0'), true)).toEqual({ kind: 'NONE' });
  });
  it('asks for whole minor units, rounded up: a card cannot pay the sub-cent rest a rated charge left', () => {
    const rule = { enabled: true, threshold: d('10'), topupAmount: null, targetBalance: d('50'), paymentMethodToken: 't', dailyLimit: null, monthlyLimit: null, currency: 'EUR' };
    expect(decideTopup(rule, d('50'), d('9.876544'), d('0'), d('0'))).toEqual({ kind: 'REQUEST', amount: d('40.13') });
    expect(decideTopup({ ...rule, targetBalance: d('5000'), threshold: d('1000'), currency: 'JPY' }, d('1000'), d('999.5'), d('0'), d('0'))).toEqual({ kind: 'REQUEST', amount: d('4001') });
  });
  it('a completed request still below the threshold asks the next at once, within the limits and at most MAX_REQUESTS_PER_CROSSING in a row', () => {
    const rule = { enabled: true, threshold: d('25'), topupAmount: d('10'), targetBalance: null, paymentMethodToken: 't', dailyLimit: d('30'), monthlyLimit: null, currency: 'EUR' };
    expect(followUpDecision(rule, d('14'), false, 0, d('10'), d('10'))).toEqual({ kind: 'REQUEST', amount: d('10') });
    expect(followUpDecision(rule, d('24'), false, 1, d('30'), d('30'))).toMatchObject({ kind: 'LIMIT_REACHED', limit: 'DAILY' });
    // At or above the threshold, another request pending, the rule off: nothing.
    expect(followUpDecision(rule, d('25'), false, 0, d('0'), d('0'))).toEqual({ kind: 'NONE' });
    expect(followUpDecision(rule, d('14'), true, 0, d('0'), d('0'))).toEqual({ kind: 'NONE' });
    expect(followUpDecision({ ...rule, enabled: false }, d('14'), false, 0, d('0'), d('0'))).toEqual({ kind: 'NONE' });
    // Up to a target: what is still missing.
    expect(followUpDecision({ ...rule, topupAmount: null, targetBalance: d('40') }, d('12.5'), false, 0, d('0'), d('0'))).toEqual({ kind: 'REQUEST', amount: d('27.5') });
    // The completed request was the last one a crossing may make: stopped.
    const unlimited = { ...rule, dailyLimit: null };
    expect(followUpDecision(unlimited, d('14'), false, MAX_REQUESTS_PER_CROSSING - 2, d('0'), d('0'))).toEqual({ kind: 'REQUEST', amount: d('10') });
    expect(followUpDecision(unlimited, d('14'), false, MAX_REQUESTS_PER_CROSSING - 1, d('0'), d('0'))).toEqual({ kind: 'STOPPED', requests: MAX_REQUESTS_PER_CROSSING });
  });
});
