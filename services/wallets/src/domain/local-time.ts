/**
 * Local calendar days and months in a billing account's IANA time zone (the auto top-up limits
 * are a day and a month of the customer's), by contracts' local-time rule; an account whose zone
 * is unknown (null, or not a zone this runtime knows) counts UTC days. Pure: `now` is passed in.
 */
import { isTimeZone, startOfLocalDay as localDayStart, startOfLocalMonth as localMonthStart } from '@ledgerline/contracts';

export { isTimeZone };

const DAY_MS = 86_400_000;

/** Start of the local day `now` falls in; UTC when the zone is unknown (null) or not a zone. */
export function startOfLocalDay(now: Date, timeZone: string | null): Date {
  if (!isTimeZone(timeZone)) return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return localDayStart(now, timeZone);
}

/** Start of the local month `now` falls in; UTC when the zone is unknown (null) or not a zone. */
export function startOfLocalMonth(now: Date, timeZone: string | null): Date {
  if (!isTimeZone(timeZone)) return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return localMonthStart(now, timeZone);
}

/**
 * An instant no later than the start of the local month of `now` in any zone (offsets run from
 * UTC−12 to UTC+14; a day either side covers them and any DST shift): what must be read to judge
 * a month's limit before the account's zone is known.
 */
export function earliestLocalMonthStart(now: Date): Date {
  const dayBefore = new Date(now.getTime() - DAY_MS);
  return new Date(Date.UTC(dayBefore.getUTCFullYear(), dayBefore.getUTCMonth(), 1) - DAY_MS);
}
