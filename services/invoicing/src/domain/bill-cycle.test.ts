import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { cyclePeriod, periodFrom, prorateOverCycle, scheduleCycleChange, type AccountCycle } from './bill-cycle';
import { composeInvoice, type ComposeInput } from './compose';

const iso = (p: { period: { start: Date; end: Date }; reference: { start: Date; end: Date } } | null) =>
  p && { period: [p.period.start.toISOString(), p.period.end.toISOString()], reference: [p.reference.start.toISOString(), p.reference.end.toISOString()] };

describe('bill-cycle changes', () => {
  const berlin1: AccountCycle = { bill_cycle_day: 1, timezone: 'Europe/Berlin' };

  it('take effect at the end of the period in effect; the same request again changes nothing; going back cancels', () => {
    const changed = scheduleCycleChange(berlin1, 15, 'Europe/Berlin', new Date('2026-10-20T09:00:00Z'));
    expect(changed).toEqual({ bill_cycle_day: 15, timezone: 'Europe/Berlin', prev_bill_cycle_day: 1, prev_timezone: 'Europe/Berlin', bill_cycle_changes_at: new Date('2026-10-31T23:00:00Z') });
    expect(scheduleCycleChange(changed, 15, 'Europe/Berlin', new Date('2026-10-21T09:00:00Z'))).toEqual(changed);
    // Another day before the first change took effect: still from the same instant, from the old day.
    expect(scheduleCycleChange(changed, 20, 'Europe/Berlin', new Date('2026-10-22T09:00:00Z'))).toMatchObject({ bill_cycle_day: 20, prev_bill_cycle_day: 1, bill_cycle_changes_at: new Date('2026-10-31T23:00:00Z') });
    expect(scheduleCycleChange(changed, 1, 'Europe/Berlin', new Date('2026-10-22T09:00:00Z'))).toEqual({ bill_cycle_day: 1, timezone: 'Europe/Berlin', prev_bill_cycle_day: null, prev_timezone: null, bill_cycle_changes_at: null });
  });

  it('bill the old cycle up to the change, then a bridge prorated over the new cycle period', () => {
    const a = scheduleCycleChange(berlin1, 15, 'Europe/Berlin', new Date('2026-10-20T09:00:00Z'));
    expect(iso(cyclePeriod(a, '2026-10-15'))).toBeNull();
    expect(iso(cyclePeriod(a, '2026-11-01'))).toEqual({ period: ['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z'], reference: ['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z'] });
    expect(iso(cyclePeriod(a, '2026-11-15'))).toEqual({ period: ['2026-10-31T23:00:00.000Z', '2026-11-14T23:00:00.000Z'], reference: ['2026-10-14T22:00:00.000Z', '2026-11-14T23:00:00.000Z'] });
    expect(iso(cyclePeriod(a, '2026-12-01'))).toBeNull();
    expect(iso(cyclePeriod(a, '2026-12-15'))?.period).toEqual(['2026-11-14T23:00:00.000Z', '2026-12-14T23:00:00.000Z']);
  });

  it('a change of time zone only: the old period ends on the cycle date, the next one starts where it ended', () => {
    const a = scheduleCycleChange(berlin1, 1, 'America/New_York', new Date('2026-10-20T09:00:00Z'));
    expect(iso(cyclePeriod(a, '2026-11-01'))?.period).toEqual(['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z']);
    expect(iso(cyclePeriod(a, '2026-12-01'))).toEqual({ period: ['2026-10-31T23:00:00.000Z', '2026-12-01T05:00:00.000Z'], reference: ['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z'] });
  });

  it('periodFrom: the periods the bill-cycle workflow closes one after the other are the ones bill runs bill', () => {
    const a = scheduleCycleChange(berlin1, 15, 'Europe/Berlin', new Date('2026-10-20T09:00:00Z'));
    // Before the change: the old cycle's period, to the change; the account's first (a start mid-period) too.
    expect(iso(periodFrom(a, new Date('2026-09-30T22:00:00Z')))?.period).toEqual(['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z']);
    expect(iso(periodFrom(a, new Date('2026-10-10T08:00:00Z')))?.period).toEqual(['2026-10-10T08:00:00.000Z', '2026-10-31T23:00:00.000Z']);
    // From the change: the bridge, prorated over the new cycle's period, then the new day's periods.
    expect(iso(periodFrom(a, new Date('2026-10-31T23:00:00Z')))).toEqual(iso(cyclePeriod(a, '2026-11-15')));
    expect(iso(periodFrom(a, new Date('2026-11-14T23:00:00Z')))).toEqual(iso(cyclePeriod(a, '2026-12-15')));
    // No change: the cycle's period.
    expect(iso(periodFrom(berlin1, new Date('2026-10-31T23:00:00Z')))?.period).toEqual(['2026-10-31T23:00:00.000Z', '2026-11-30T23:00:00.000Z']);
  });

  it('periodFrom after a change of time zone only: the boundary hours away is billed with the next period', () => {
    const a = scheduleCycleChange(berlin1, 1, 'America/New_York', new Date('2026-10-20T09:00:00Z'));
    expect(iso(periodFrom(a, new Date('2026-10-31T23:00:00Z')))).toEqual(iso(cyclePeriod(a, '2026-12-01')));
  });
});

describe('a final period ending mid-cycle (an account closed)', () => {
  const october = { start: new Date('2026-09-30T22:00:00Z'), end: new Date('2026-10-31T23:00:00Z') }; // 31 days, Berlin
  const input = (start: string, end: string): ComposeInput => ({
    currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: 'Europe/Berlin', period: { start: new Date(start), end: new Date(end) },
    recurring: [{ subscriptionId: 'sub_1', lineId: 'lin_1', msisdn: '+4915100000001', planCode: 'P', planName: 'Postpaid 20 GB', fee: '29.99', feePeriod: 'MONTH', proration: 'DAILY', taxCategory: 'TELECOM_STANDARD', from: new Date('2026-01-01T00:00:00Z'), to: null, shared: false }],
    usage: [], oneOffs: [], discounts: [], taxRules: [],
  });

  it('is prorated over the days of its cycle period up to the closing day (which counts to nothing)', () => {
    // Closed Oct 20, 10:00 Berlin: Oct 1..19 of 31 days.
    const fromStart = composeInvoice(prorateOverCycle(input('2026-09-30T22:00:00Z', '2026-10-20T08:00:00Z'), october));
    expect(fromStart.lines.map((l) => [l.kind, l.netAmount, l.quantity])).toEqual([['RECURRING', '18.38', dec('19').dividedBy(31).toDecimalPlaces(6).toFixed()]]);
    // From a mid-cycle start (billed up to Oct 5 already): Oct 5..19.
    const fromMid = composeInvoice(prorateOverCycle(input('2026-10-04T22:00:00Z', '2026-10-20T08:00:00Z'), october));
    expect(fromMid.lines.map((l) => l.netAmount)).toEqual(['14.51']);
    // The whole cycle period is composed as it is.
    expect(composeInvoice(prorateOverCycle(input(october.start.toISOString(), october.end.toISOString()), october)).lines.map((l) => l.netAmount)).toEqual(['29.99']);
  });
});
