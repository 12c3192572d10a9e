// Bill-cycle changes. A billing account registered again with another bill-cycle day or time zone
// does not jump to the new cycle at once (the old day's runs would no longer bill its current period
// and the new day's first period would leave days unbilled, or bill a short period for a whole
// fee): the change takes effect at the end of the account's current period (`changesAt`), which the
// old cycle still bills; the new cycle's first period bridges from `changesAt` to its next boundary
// and prorates recurring charges over the days of the new cycle's period it lies in (`reference`).
// Every day is billed once. Pure: time passed in.
import { startOfLocalDay } from '@ledgerline/contracts';
import type { ComposeInput } from './compose';
import { cycleDaysFor, periodContaining, periodEndingOn, type Period } from './period';

const DAY_MS = 86_400_000;

export interface AccountCycle {
  bill_cycle_day: number;
  timezone: string;
  /** The cycle until `bill_cycle_changes_at` (null: no change recorded). */
  prev_bill_cycle_day?: number | null;
  prev_timezone?: string | null;
  bill_cycle_changes_at?: Date | string | null;
}

export interface CycleSettings {
  bill_cycle_day: number;
  timezone: string;
  prev_bill_cycle_day: number | null;
  prev_timezone: string | null;
  bill_cycle_changes_at: Date | null;
}

const changesAt = (a: AccountCycle): Date | null => (a.bill_cycle_changes_at != null && a.prev_bill_cycle_day != null ? new Date(a.bill_cycle_changes_at) : null);

/** The cycle (day, zone) the account's periods follow at `at`. */
export function cycleAt(a: AccountCycle, at: Date): { day: number; timeZone: string } {
  const from = changesAt(a);
  if (from && at < from) return { day: a.prev_bill_cycle_day!, timeZone: a.prev_timezone ?? a.timezone };
  return { day: a.bill_cycle_day, timeZone: a.timezone };
}

/**
 * The account's cycle settings after asking for `day` in `timeZone` at `now`: unchanged when that is
 * its cycle already (a repeated registration), the pending change cancelled when it goes back to the
 * cycle in effect now, else a change from the end of the period in effect now.
 */
export function scheduleCycleChange(a: AccountCycle, day: number, timeZone: string, now: Date): CycleSettings {
  const current: CycleSettings = {
    bill_cycle_day: a.bill_cycle_day,
    timezone: a.timezone,
    prev_bill_cycle_day: a.prev_bill_cycle_day ?? null,
    prev_timezone: a.prev_timezone ?? null,
    bill_cycle_changes_at: a.bill_cycle_changes_at != null ? new Date(a.bill_cycle_changes_at) : null,
  };
  if (day === a.bill_cycle_day && timeZone === a.timezone) return current;
  const inEffect = cycleAt(a, now);
  if (day === inEffect.day && timeZone === inEffect.timeZone) return { bill_cycle_day: day, timezone: timeZone, prev_bill_cycle_day: null, prev_timezone: null, bill_cycle_changes_at: null };
  return { bill_cycle_day: day, timezone: timeZone, prev_bill_cycle_day: inEffect.day, prev_timezone: inEffect.timeZone, bill_cycle_changes_at: periodContaining(now, inEffect.day, inEffect.timeZone).end };
}

export interface CyclePeriod {
  /** The days to bill. */
  period: Period;
  /** The cycle period they lie in: recurring charges are prorated over its days. */
  reference: Period;
}

/**
 * The period a bill run for `cycleDate` bills the account for, or null when the date is not its
 * cycle's (before a change: the old cycle's periods ending by the change; after: the new cycle's,
 * the first one starting at the change). When an old and a new period end on one date (a change of
 * time zone only), the old one: the bridge is billed with the next period.
 */
export function cyclePeriod(a: AccountCycle, cycleDate: string): CyclePeriod | null {
  const days = cycleDaysFor(cycleDate);
  const from = changesAt(a);
  if (from) {
    if (days.includes(a.prev_bill_cycle_day!)) {
      const old = periodEndingOn(cycleDate, a.prev_bill_cycle_day!, a.prev_timezone ?? a.timezone);
      if (old.end <= from) return { period: old, reference: old };
    }
    if (!days.includes(a.bill_cycle_day)) return null;
    const next = periodEndingOn(cycleDate, a.bill_cycle_day, a.timezone);
    if (next.end <= from) return null;
    // The first period of the new cycle starts at the change (a boundary of another zone less than a day away too).
    const start = next.start <= from || next.start.getTime() - from.getTime() < DAY_MS ? from : next.start;
    return { period: { start, end: next.end }, reference: next };
  }
  if (!days.includes(a.bill_cycle_day)) return null;
  const p = periodEndingOn(cycleDate, a.bill_cycle_day, a.timezone);
  return { period: p, reference: p };
}

/**
 * The period of the account that starts at `from` (the account's start, or where its previous
 * period ended), as invoicing bills it: what the bill-cycle workflow sleeps to and closes next (it
 * asks, it does not keep its own copy of the cycle). Before a change: the old cycle's, ending at the
 * change at the latest. From the change: the new cycle's, the first one a bridge to its first boundary
 * at least a day away (a closer one, a change of time zone, is billed with the next period, as in
 * `cyclePeriod`); `reference` is the new cycle's period its recurring charges are prorated over.
 */
export function periodFrom(a: AccountCycle, from: Date): CyclePeriod {
  const change = changesAt(a);
  const { day, timeZone } = cycleAt(a, from);
  let reference = periodContaining(from, day, timeZone);
  if (change && from < change) {
    const end = reference.end < change ? reference.end : change;
    return { period: { start: from, end }, reference: end.getTime() === reference.end.getTime() ? reference : { start: reference.start, end } };
  }
  if (change && Math.abs(from.getTime() - change.getTime()) < DAY_MS && reference.end.getTime() - from.getTime() < DAY_MS) reference = periodContaining(reference.end, day, timeZone);
  return { period: { start: from, end: reference.end }, reference };
}

/** The local midnight nearest to `at` (a change of time zone moves a boundary within a day). */
function nearestMidnight(at: Date, timeZone: string): Date {
  const day = startOfLocalDay(at, timeZone);
  const next = startOfLocalDay(new Date(day.getTime() + 36 * 3_600_000), timeZone);
  return at.getTime() - day.getTime() <= next.getTime() - at.getTime() ? day : next;
}

type Spans = { from: Date; to: Date | null }[];
function clip<T extends { from: Date; to: Date | null }>(spans: T[], from: Date): T[] {
  return spans.filter((s) => s.to == null || s.to > from).map((s) => (s.from < from ? { ...s, from } : s));
}

function clipEnd<T extends { from: Date; to: Date | null }>(spans: T[], to: Date): T[] {
  return spans.filter((s) => s.from < to).map((s) => (s.to == null || s.to > to ? { ...s, to } : s));
}

/**
 * The composition of `input` (its period a part of `reference` ending with it, e.g. a bridging
 * period) with its dated charges prorated over the days of `reference`: composed over `reference`
 * with everything dated clipped to the part's first day (recurring fees, plan spans, discount
 * validity and plan-rule spans, surcharge spans). Usage and one-offs are the part's already. A
 * part ending before `reference` does (an account's final period, closed mid-cycle) is clipped to
 * its end as well: the closing day counts to nothing, as a line ending that day is billed by a bill
 * run (the day rule). A part that is the whole of `reference`, or not inside it, is composed as it is.
 */
export function prorateOverCycle(input: ComposeInput, reference: Period): ComposeInput {
  const part = input.period;
  if (part.start >= reference.start && part.start < part.end && part.end < reference.end) return prorateEarlyEnd(input, reference);
  if (!(part.start > reference.start && part.start < reference.end && part.end.getTime() === reference.end.getTime())) return input;
  const from = nearestMidnight(part.start, input.timeZone);
  if (from <= reference.start) return { ...input, period: reference };
  const held = input.planHeld ? clip(input.planHeld, from) : null;
  return {
    ...input,
    period: reference,
    recurring: clip(input.recurring, from),
    planHeld: held && held.length === 0 && input.planHeld!.length > 0 ? [{ from, to: null }] : held,
    discounts: input.discounts.filter((d) => d.validTo == null || d.validTo > from).map((d) => ({
      ...d,
      validFrom: d.validFrom && d.validFrom > from ? d.validFrom : from,
      heldDuring: d.heldDuring ? clip(d.heldDuring as Spans, from) : d.heldDuring,
    })),
    surcharges: input.surcharges?.map((s) => ({ ...s, heldDuring: s.heldDuring ? clip(s.heldDuring as Spans, from) : [{ from, to: null }] })) ?? input.surcharges,
  };
}

/** `prorateOverCycle` for a part of `reference` ending before it (from its start or later). */
function prorateEarlyEnd(input: ComposeInput, reference: Period): ComposeInput {
  const part = input.period;
  const from = part.start > reference.start ? nearestMidnight(part.start, input.timeZone) : reference.start;
  const to = part.end;
  const span = <T extends { from: Date; to: Date | null }>(spans: T[]): T[] => clipEnd(from > reference.start ? clip(spans, from) : spans, to);
  const held = input.planHeld ? span(input.planHeld) : null;
  return {
    ...input,
    period: reference,
    recurring: span(input.recurring),
    planHeld: held && held.length === 0 && input.planHeld!.length > 0 ? [{ from, to }] : held,
    discounts: input.discounts
      .filter((d) => (d.validTo == null || d.validTo > from) && (d.validFrom == null || d.validFrom < to))
      .map((d) => ({
        ...d,
        validFrom: d.validFrom && d.validFrom > from ? d.validFrom : from,
        validTo: d.validTo && d.validTo < to ? d.validTo : to,
        heldDuring: d.heldDuring ? span(d.heldDuring as Spans) : d.heldDuring,
      })),
    surcharges: input.surcharges?.map((s) => ({ ...s, heldDuring: s.heldDuring ? span(s.heldDuring as Spans) : [{ from, to }] })) ?? input.surcharges,
  };
}
