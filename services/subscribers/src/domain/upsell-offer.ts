/**
 * When an upsell offer stops being open. An offer is made from a line's usage in an allowance
 * period and is for that period ("5 GB more for this month"), so it ends at its deadline or at
 * the end of that period, whichever comes first. Offers without a known period end (stored
 * before it was kept, or presented by a workflow run that did not pass it) have their deadline.
 */

const HOUR = 3_600_000;

/**
 * The `expiresAt` of an offer presented at `now`: `validForHours` later, or the period's end when
 * that comes first. A period already over leaves the deadline (such an offer is not presented).
 */
export function offerExpiresAt(now: Date, validForHours: number, periodEnd: Date | null | undefined): Date {
  const deadline = new Date(now.getTime() + validForHours * HOUR);
  return periodEnd && periodEnd > now && periodEnd < deadline ? periodEnd : deadline;
}

/**
 * When a stored offer ends, and whether that is its allowance period's end (`withPeriod`, the
 * period ended no later than the deadline): the earlier of `expiresAt` and `periodEnd`.
 */
export function offerEnd(offer: { expiresAt: Date; periodEnd?: Date | null }): { at: Date; withPeriod: boolean } {
  const { expiresAt, periodEnd } = offer;
  return periodEnd && periodEnd <= expiresAt ? { at: periodEnd, withPeriod: true } : { at: expiresAt, withPeriod: false };
}
