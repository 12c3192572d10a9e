import { describe, expect, it } from 'vitest';
import { calendarMonthAt, linePeriodAt, monthPeriod, periodQueryInstant, poolPeriodAt } from './period';
import type { LineInfo, SubscriptionVersion } from './subscriber';

describe('monthPeriod (rerate)', () => {
  it('defaults to the month of now and is half-open', () => {
    const p = monthPeriod(undefined, new Date('2026-02-14T10:00:00Z'));
    expect(p).toEqual({ period: '2026-02', start: new Date('2026-02-01T00:00:00Z'), end: new Date('2026-03-01T00:00:00Z') });
  });
  it('rolls December into January', () => {
    expect(monthPeriod('2026-12', new Date('2026-11-26T00:00:00Z')).end).toEqual(new Date('2027-01-01T00:00:00Z'));
  });
  it.each(['2026-13', '2026-1', 'last month'])('rejects %s', (p) => {
    expect(() => monthPeriod(p, new Date('2026-11-26T00:00:00Z'))).toThrow(/YYYY-MM/);
  });
});

const version = (subscriptionId: string, validFrom: string): SubscriptionVersion => ({
  subscriptionId, validFrom: new Date(validFrom), billingAccountId: 'acc', paymentMode: 'PREPAID', currency: 'EUR', planCode: 'P', planVersionId: 'plv', status: 'ACTIVE', endsAt: null, addOns: [],
});

describe('live usage periods', () => {
  // A subscription that started on the 15th, suspended (a second row of it) on the 20th.
  const line: LineInfo = { lineId: 'lin', msisdn: null, billingAccountId: 'acc', status: 'ACTIVE', lineCount: 1, versions: [version('sub', '2026-10-15T09:30:00Z'), version('sub', '2026-10-20T00:00:00Z')] };

  it("follow the subscription's start (all its rows), not the calendar month", () => {
    const p = linePeriodAt(line, line.versions[1], 'MONTH', new Date('2026-11-20T00:00:00Z'));
    expect(p).toEqual({ period: '2026-11-15', start: new Date('2026-11-15T09:30:00Z'), end: new Date('2026-12-15T09:30:00Z') });
    expect(linePeriodAt(line, line.versions[1], 'MONTH', new Date('2026-11-15T09:29:59Z')).period).toBe('2026-10-15');
    expect(linePeriodAt(line, line.versions[1], undefined, new Date('2026-11-20T00:00:00Z')).period).toBe('2026-11-14'); // no fee: 30 days
  });

  it('restart where wallets renewed late, and the period cut short ends there', () => {
    // The 15 November period ended on 15 December; the fee waited for a top-up on 18 December 12:00.
    const late: LineInfo = { ...line, restarts: { sub: [new Date('2026-12-18T12:00:00Z')] } };
    expect(linePeriodAt(late, line.versions[0], 'MONTH', new Date('2026-12-16T00:00:00Z'))).toEqual({ period: '2026-12-15', start: new Date('2026-12-15T09:30:00Z'), end: new Date('2026-12-18T12:00:00Z') });
    expect(linePeriodAt(late, line.versions[0], 'MONTH', new Date('2027-01-10T00:00:00Z'))).toEqual({ period: '2026-12-18', start: new Date('2026-12-18T12:00:00Z'), end: new Date('2027-01-18T12:00:00Z') });
    // Before the restart nothing changes; another subscription's restarts are not this one's.
    expect(linePeriodAt(late, line.versions[0], 'MONTH', new Date('2026-11-20T00:00:00Z')).period).toBe('2026-11-15');
    expect(linePeriodAt({ ...line, restarts: { other: [new Date('2026-12-18T12:00:00Z')] } }, line.versions[0], 'MONTH', new Date('2026-12-20T00:00:00Z')).period).toBe('2026-12-15');
  });

  it('a period cut short on the day it began is named by its start instant, so it never shares a name with the restart', () => {
    // The 15 December period began at 09:30; the fee of the next waited for a top-up at 18:00 the same day.
    const sameDay: LineInfo = { ...line, restarts: { sub: [new Date('2026-12-15T18:00:00Z')] } };
    const cut = linePeriodAt(sameDay, line.versions[0], 'MONTH', new Date('2026-12-15T12:00:00Z'));
    const restarted = linePeriodAt(sameDay, line.versions[0], 'MONTH', new Date('2026-12-15T19:00:00Z'));
    expect(cut).toEqual({ period: '2026-12-15T09:30:00.000Z', start: new Date('2026-12-15T09:30:00Z'), end: new Date('2026-12-15T18:00:00Z') });
    expect(restarted).toEqual({ period: '2026-12-15', start: new Date('2026-12-15T18:00:00Z'), end: new Date('2027-01-15T18:00:00Z') });
    // Each is found by its name: the day → the restart's period; the instant → the one cut short.
    expect(linePeriodAt(sameDay, line.versions[0], 'MONTH', periodQueryInstant('2026-12-15', new Date('2027-01-01T00:00:00Z'))).period).toBe('2026-12-15');
    expect(linePeriodAt(sameDay, line.versions[0], 'MONTH', periodQueryInstant(cut.period, new Date('2027-01-01T00:00:00Z'))).period).toBe(cut.period);
  });

  it("end at the subscription's end; cut short on the day it began, a period is named by its start instant (a plan change is a new subscription)", () => {
    // The 15 December period began at 09:30; a plan change at 12:00 the same day ends the subscription, the new one starts then.
    const ended = { ...version('sub', '2026-10-15T09:30:00Z'), endsAt: new Date('2026-12-15T12:00:00Z') };
    const next = version('sub2', '2026-12-15T12:00:00Z');
    const changed: LineInfo = { ...line, versions: [ended, next] };
    expect(linePeriodAt(changed, ended, 'MONTH', new Date('2026-12-15T10:00:00Z'))).toEqual({ period: '2026-12-15T09:30:00.000Z', start: new Date('2026-12-15T09:30:00Z'), end: new Date('2026-12-15T12:00:00Z') });
    expect(linePeriodAt(changed, next, 'MONTH', new Date('2026-12-15T13:00:00Z'))).toEqual({ period: '2026-12-15', start: new Date('2026-12-15T12:00:00Z'), end: new Date('2027-01-15T12:00:00Z') });
    // Periods before the end are whole; one cut on a later day keeps its day's name.
    expect(linePeriodAt(changed, ended, 'MONTH', new Date('2026-12-01T00:00:00Z')).end).toEqual(new Date('2026-12-15T09:30:00Z'));
    const later = { ...ended, endsAt: new Date('2026-12-20T00:00:00Z') };
    expect(linePeriodAt({ ...line, versions: [later] }, later, 'MONTH', new Date('2026-12-16T00:00:00Z'))).toEqual({ period: '2026-12-15', start: new Date('2026-12-15T09:30:00Z'), end: new Date('2026-12-20T00:00:00Z') });
    // The day finds the new subscription's period, the instant the one cut short.
    expect(linePeriodAt(changed, next, 'MONTH', periodQueryInstant('2026-12-15', new Date('2027-01-01T00:00:00Z'))).period).toBe('2026-12-15');
  });

  it('fall back to the calendar month without a subscription', () => {
    expect(linePeriodAt(line, undefined, 'MONTH', new Date('2026-11-20T00:00:00Z'))).toEqual(calendarMonthAt(new Date('2026-11-20T00:00:00Z')));
    expect(calendarMonthAt(new Date('2026-12-31T23:00:00Z'))).toEqual({ period: '2026-12-01', start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') });
  });

  it("run a shared pool on the cadence of its first member while any member is in force at a period's end, as wallets renews it", () => {
    const members = [
      { startsAt: new Date('2026-10-10T00:00:00Z'), endsAt: new Date('2026-11-25T00:00:00Z') },
      { startsAt: new Date('2026-10-20T00:00:00Z'), endsAt: null },
    ];
    expect(poolPeriodAt(members, 'MONTH', new Date('2026-11-20T00:00:00Z'))?.period).toBe('2026-11-10');
    // The first member left on 25 November: the pool keeps its periods (wallets renews it on 10 December for the other line).
    expect(poolPeriodAt(members, 'MONTH', new Date('2026-11-26T00:00:00Z'))?.period).toBe('2026-11-10');
    expect(poolPeriodAt(members, 'MONTH', new Date('2026-12-15T00:00:00Z'))?.period).toBe('2026-12-10');
    expect(poolPeriodAt(members, 'MONTH', new Date('2026-10-01T00:00:00Z'))).toBeUndefined();
    // Nobody in force at the end of a period (10 November): no pool until the next member, who starts a new run.
    const gap = [
      { startsAt: new Date('2026-10-10T00:00:00Z'), endsAt: new Date('2026-10-20T00:00:00Z') },
      { startsAt: new Date('2026-10-25T00:00:00Z'), endsAt: new Date('2026-11-05T00:00:00Z') },
      { startsAt: new Date('2026-12-01T00:00:00Z'), endsAt: null },
    ];
    // The second joined the first one's period after it had left: it draws on that pool.
    expect(poolPeriodAt(gap, 'MONTH', new Date('2026-10-26T00:00:00Z'))?.period).toBe('2026-10-10');
    expect(poolPeriodAt(gap, 'MONTH', new Date('2026-11-15T00:00:00Z'))).toBeUndefined();
    expect(poolPeriodAt(gap, 'MONTH', new Date('2026-12-05T00:00:00Z'))?.period).toBe('2026-12-01');
    expect(poolPeriodAt(gap, 'MONTH', new Date('2027-01-05T00:00:00Z'))?.period).toBe('2027-01-01');
  });

  it('are asked for by their first day, an instant, or nothing (now)', () => {
    const now = new Date('2026-11-26T08:00:00Z');
    expect(periodQueryInstant(undefined, now)).toBe(now);
    expect(periodQueryInstant('2026-11-15', now)).toEqual(new Date('2026-11-15T23:59:59.999Z'));
    expect(periodQueryInstant('2026-11-15T09:00:00Z', now)).toEqual(new Date('2026-11-15T09:00:00Z'));
    // The day names the period that starts on it, though it starts mid-day.
    expect(linePeriodAt(line, line.versions[0], 'MONTH', periodQueryInstant('2026-11-15', now)).period).toBe('2026-11-15');
    for (const bad of ['2026-11', '2026-02-30', 'yesterday', '2026-13-01T00:00:00Z']) expect(() => periodQueryInstant(bad, now), bad).toThrow(/YYYY-MM-DD/);
  });
});
