import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { billPeriodAt, billPeriodsNotEnded, bookSpend, reachedAlerts, spendAlertAmountProblem, type SpendAlert } from './spend-alert';
import { TOTAL_BUCKET, bucketOf, type LineCounters } from './live-usage';

const iso = (p: { period: string; start: Date; end: Date }) => [p.period, p.start.toISOString(), p.end.toISOString()];

describe('billPeriodAt: the bill period an instant falls in (bill-cycle day, local days of the account)', () => {
  it('a cycle on the 1st in Berlin runs from local midnight to local midnight', () => {
    expect(iso(billPeriodAt({ billCycleDay: 1, timezone: 'Europe/Berlin' }, new Date('2026-03-20T12:00:00Z')))).toEqual(['2026-03-01', '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z']);
    // 23:30 UTC on 31 March is 1 April in Berlin: the April period.
    expect(billPeriodAt({ billCycleDay: 1, timezone: 'Europe/Berlin' }, new Date('2026-03-31T22:30:00Z')).period).toBe('2026-04-01');
  });
  it('a cycle on the 31st bills on the last day of shorter months; before the day, the period began last month', () => {
    expect(iso(billPeriodAt({ billCycleDay: 31, timezone: 'UTC' }, new Date('2026-02-15T00:00:00Z')))).toEqual(['2026-01-31', '2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(iso(billPeriodAt({ billCycleDay: 31, timezone: 'UTC' }, new Date('2026-02-28T10:00:00Z')))).toEqual(['2026-02-28', '2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    expect(billPeriodAt({ billCycleDay: 15, timezone: 'UTC' }, new Date('2026-01-03T00:00:00Z')).period).toBe('2025-12-15');
  });
});

describe('spendAlertAmountProblem', () => {
  it('names the field: the account currency, a positive amount, no more decimals than the currency has, a ceiling', () => {
    expect(spendAlertAmountProblem('50', 'EUR', 'EUR')).toBeUndefined();
    expect(spendAlertAmountProblem('50.00', 'USD', 'EUR')).toMatchObject({ field: 'input.amount.currency', code: 'CURRENCY_MISMATCH' });
    expect(spendAlertAmountProblem('0', 'EUR', 'EUR')).toMatchObject({ field: 'input.amount.amount' });
    expect(spendAlertAmountProblem('-5', 'EUR', 'EUR')).toMatchObject({ field: 'input.amount.amount' });
    expect(spendAlertAmountProblem('50.001', 'EUR', 'EUR')).toMatchObject({ field: 'input.amount.amount' });
    expect(spendAlertAmountProblem('50.001', 'JOD', 'JOD')).toBeUndefined();
    expect(spendAlertAmountProblem('1000000000.01', 'EUR', 'EUR')).toMatchObject({ field: 'input.amount.amount' });
  });
});

describe('bookSpend', () => {
  const alert = (id: string, lineId: string | null, amount: string): SpendAlert => ({ id, billingAccountId: 'acc', lineId, amount: dec(amount), currency: 'EUR' });
  const account = alert('a', null, '50');
  const lineA = alert('la', 'lin_a', '20');

  it('reports the account alert on the event that takes the account to its amount, and the line alert on its own line only', () => {
    const c: LineCounters = new Map();
    expect(bookSpend(c, 'lin_a', dec('19.99'), [account, lineA])).toEqual([]);
    expect(bookSpend(c, 'lin_b', dec('25'), [account, lineA])).toEqual([]); // line b's spend is not line a's
    const crossed = bookSpend(c, 'lin_a', dec('5.01'), [account, lineA]);
    expect(crossed.map((x) => [x.alert.id, x.spent.toFixed()])).toEqual([['a', '50'], ['la', '25']]);
    // Past it: nothing again (the caller keeps reports once per period anyway).
    expect(bookSpend(c, 'lin_a', dec('1'), [account, lineA])).toEqual([]);
    expect(c.get(TOTAL_BUCKET)!.spend.toFixed()).toBe('51');
  });

  it('the first event on counters loaded from the records reports every alert already at its amount, even with no spend', () => {
    const c: LineCounters = new Map();
    const total = bucketOf(c, TOTAL_BUCKET);
    total.spend = dec('60');
    total.fromRecords = true;
    bucketOf(c, 'lin_a').spend = dec('30');
    expect(bookSpend(c, 'lin_b', dec('0'), [account, lineA]).map((x) => [x.alert.id, x.spent.toFixed()])).toEqual([['a', '60'], ['la', '30']]);
    expect(bookSpend(c, 'lin_b', dec('0'), [account, lineA])).toEqual([]);
  });
});

describe('after a re-rate: billPeriodsNotEnded and reachedAlerts', () => {
  const berlin = { billCycleDay: 1, timezone: 'Europe/Berlin' };
  it('the bill periods of the re-rated range still running at now (a period over tells nothing)', () => {
    const now = new Date('2026-03-20T12:00:00Z');
    expect(billPeriodsNotEnded(berlin, new Date('2026-02-15T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), now).map((p) => p.period)).toEqual(['2026-03-01', '2026-04-01']);
    expect(billPeriodsNotEnded(berlin, new Date('2026-02-01T00:00:00Z'), new Date('2026-03-01T00:00:00Z'), now)).toEqual([]);
  });
  it('every alert at or past its amount, the account by its total and a line by its own', () => {
    const alert = (id: string, lineId: string | null, amount: string): SpendAlert => ({ id, billingAccountId: 'acc', lineId, amount: dec(amount), currency: 'EUR' });
    const c: LineCounters = new Map();
    bucketOf(c, TOTAL_BUCKET).spend = dec('23.60');
    bucketOf(c, 'lin_a').spend = dec('11.80');
    const reached = reachedAlerts(c, [alert('a', null, '20'), alert('la', 'lin_a', '10'), alert('lb', 'lin_b', '5'), alert('a2', null, '30')]);
    expect(reached.map((x) => [x.alert.id, x.spent.toFixed()])).toEqual([['a', '23.6'], ['la', '11.8']]);
  });
});
