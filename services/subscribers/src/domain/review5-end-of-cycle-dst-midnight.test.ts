// What is wrong: `startOfLocalDay` (calendar.ts) answers the wrong day when the day's midnight does
// not exist, i.e. when DST starts at 00:00 (America/Santiago, America/Havana and others move clocks
// straight from 00:00 to 01:00). For 6 Sep 2026 in Santiago it gives 2026-09-06T03:00Z, which is
// 5 Sep 23:00 local, an hour before the day starts. Invoicing's `localMidnight` gives the first
// instant of the day, 04:00Z (01:00 local).
//
// How a user runs into it: an END_OF_CYCLE plan change takes effect at
// `startOfLocalDay(period.end, account.timezone)` (plan-change.ts). For a Santiago account with
// bill-cycle day 6, the change is dated 5 Sep 23:00 local, inside the old period. Since today
// invoicing counts days by the day rule: an instant inside a day gives that whole day to the new
// plan. So the period 6 Aug – 6 Sep, which should be all on the old plan, is billed 30/31 on the old
// plan and 1/31 on the new one. An upgrade is overcharged, and the invoice shows a change the
// customer scheduled for the next cycle. Before the day rule, the one-hour gap rounded to 0 days.
//
// What the fix should make true: `startOfLocalDay(d, tz)` is the first instant of local day `d`.
// Its local date is `d`, and it equals invoicing's period boundary (localMidnight), so an
// END_OF_CYCLE change lands exactly on the period end.
import { describe, expect, it } from 'vitest';
import { billingPeriodOf, localDateOf, startOfLocalDay } from './calendar';

describe('startOfLocalDay on a day whose midnight is skipped by DST', () => {
  it('Santiago, 6 Sep 2026 (00:00 → 01:00): the END_OF_CYCLE instant falls on 6 Sep, not 5 Sep 23:00', () => {
    const tz = 'America/Santiago';
    const period = billingPeriodOf({ year: 2026, month: 8, day: 20 }, 6); // 6 Aug – 6 Sep
    const effectiveAt = startOfLocalDay(period.end, tz); // what previewPlanChange uses for END_OF_CYCLE
    expect(localDateOf(effectiveAt, tz), `END_OF_CYCLE effectiveAt ${effectiveAt.toISOString()} must be on the cycle date's local day`).toEqual({ year: 2026, month: 9, day: 6 });
    // Invoicing's period for this account ends at the first instant of 6 Sep local: 01:00 -03 = 04:00Z.
    expect(effectiveAt.toISOString()).toBe('2026-09-06T04:00:00.000Z');
  });

  it('Havana, 8 Mar 2026 (00:00 → 01:00): same rule', () => {
    const tz = 'America/Havana';
    const at = startOfLocalDay({ year: 2026, month: 3, day: 8 }, tz);
    expect(localDateOf(at, tz), `got ${at.toISOString()}`).toEqual({ year: 2026, month: 3, day: 8 });
    expect(at.toISOString()).toBe('2026-03-08T05:00:00.000Z');
  });

  it('an ordinary midnight is unchanged (guard)', () => {
    expect(startOfLocalDay({ year: 2026, month: 10, day: 6 }, 'America/Santiago').toISOString()).toBe('2026-10-06T03:00:00.000Z');
  });
});
