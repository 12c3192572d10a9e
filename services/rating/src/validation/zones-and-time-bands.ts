/**
 * Checks of a plan's zone tables and time bands that the schema cannot express. Both are
 * authoring-only, added after versions were published: such a version keeps rating as it was
 * published (its zones and bands as the engine reads them), with the problem as a warning.
 */
import { HOME_ZONE, NO_DESTINATION, ROAMING_LABEL_PREFIX } from '../domain/derive-facts';
import { parseLocalTime } from '../domain/local-time';
import type { PlanDocument } from '../domain/plan-types';
import type { Problem } from './problem';
import { isObject } from './util';

const DAY_MINUTES = 24 * 60;

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/**
 * A zone the plan declares under a name the engine gives itself: HOME (`roamingZone` of a line not
 * abroad) in the roaming table, NONE (`destinationZone` of an event without a called number) in the
 * destinations table. Rules could not tell the two apart: a roaming zone HOME listing CH rates
 * Swiss roaming as home usage.
 *
 * HOME is refused in the destinations table too. There it would be an ordinary zone (the prefixes
 * listed for it), but destination zones name the usage on the ledger and the invoice (usage's
 * `zoneOf`: the destination zone of a call or message at home, `ROAMING_<zone>` abroad, HOME for
 * home usage without a called number), so calls to it would be billed together with home data;
 * and in rules `destinationZone in ["HOME"]` reads as "calls home" next to `roamingZone`'s HOME,
 * "not roaming". NONE stays an ordinary roaming zone name: roamingZone is never NONE, and invoices
 * show it as ROAMING_NONE.
 *
 * For the same reason no destination zone may start with `ROAMING_`: the invoice line of a
 * destination zone ROAMING_EU is the one of usage roamed in the roaming zone EU (or in one the plan
 * adds later). Zone names are upper case (schema), so an exact comparison is the whole check.
 */
export function reservedZoneNameProblems(plan: PlanDocument): Problem[] {
  const zones: unknown = plan.zones;
  if (!isObject(zones)) return [];
  const problems: Problem[] = [];
  const check = (table: unknown, at: string, entries: 'zones' | 'prefixes', reservedAs: (name: string) => string | undefined) => {
    if (!isObject(table)) return;
    const refuse = (pointer: string, name: unknown) => {
      const meaning = typeof name === 'string' ? reservedAs(name) : undefined;
      if (meaning) problems.push({ pointer, code: 'RESERVED_ZONE_NAME', authoringOnly: true, message: `"${name as string}" is ${meaning}; a zone of this table cannot have that name. Choose another name.` });
    };
    refuse(`${at}/default`, table.default);
    asArray(table[entries]).forEach((entry, i) => {
      if (isObject(entry)) refuse(`${at}/${entries}/${i}/zone`, entry.zone);
    });
  };
  check(zones.roaming, '/zones/roaming', 'zones', (name) =>
    name === HOME_ZONE ? 'the zone the engine gives an event when the line is not roaming (roamingZone; rules could not tell the two apart)' : undefined);
  check(zones.destinations, '/zones/destinations', 'prefixes', (name) => {
    if (name === NO_DESTINATION) return 'the zone the engine gives an event without a called number (destinationZone; rules could not tell the two apart)';
    if (name === HOME_ZONE) return 'the zone the ledger and the invoice give home usage without a called number (calls to a destination zone HOME would be billed together with it), and in rules roamingZone\'s "not roaming"';
    if (name.startsWith(ROAMING_LABEL_PREFIX)) return `how usage roamed in the roaming zone ${name.slice(ROAMING_LABEL_PREFIX.length)} is named on the ledger and the invoice (calls to a destination zone ${name} would be billed together with it)`;
    return undefined;
  });
  return problems;
}

const LOCAL_TIME = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/**
 * A time-band window that matches no minute. A window is `from` inclusive to `to` exclusive,
 * wrapping midnight when `to` is before `from` (catalog README), so one that starts where it ends
 * (00:00 → 00:00, 22:00 → 22:00, and 24:00 → 00:00) is empty and its band never applies. All day
 * is 00:00 → 24:00.
 */
export function emptyTimeWindowProblems(plan: PlanDocument): Problem[] {
  const bands: unknown = plan.timeBands;
  if (!isObject(bands)) return [];
  const problems: Problem[] = [];
  asArray(bands.windows).forEach((window, i) => {
    if (!isObject(window) || typeof window.from !== 'string' || typeof window.to !== 'string' || !LOCAL_TIME.test(window.from) || !LOCAL_TIME.test(window.to)) return;
    const from = parseLocalTime(window.from);
    const to = parseLocalTime(window.to);
    if (from !== to && !(from === DAY_MINUTES && to === 0)) return;
    problems.push({
      pointer: `/timeBands/windows/${i}/to`,
      code: 'EMPTY_TIME_WINDOW',
      authoringOnly: true,
      message: `This window runs from ${window.from} (inclusive) to ${window.to} (exclusive), which is no time at all: its band would never apply. For all day write "from": "00:00", "to": "24:00" (or make the band the default); otherwise correct the end.`,
    });
  });
  return problems;
}

const HOLIDAY = /^(?:(\d{4})-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/**
 * Holidays on a day the calendar does not have: "04-31", "02-30", "2026-02-29" (2026 is no leap
 * year). The schema's pattern takes day 01-31 of any month; such a date never comes, so the
 * holiday the product manager meant would silently price as a weekday or weekend. "02-29" (every
 * year) is a day: it comes in leap years. Authoring-only: a published version keeps rating.
 */
export function holidayDateProblems(plan: PlanDocument): Problem[] {
  const calendar: unknown = plan.calendar;
  if (!isObject(calendar)) return [];
  const problems: Problem[] = [];
  asArray(calendar.holidays).forEach((holiday, i) => {
    const m = typeof holiday === 'string' ? HOLIDAY.exec(holiday) : null;
    if (!m) return; // the schema reports it
    const [year, month, day] = [m[1] === undefined ? 2000 : Number(m[1]), Number(m[2]), Number(m[3])];
    // Day 0 of the next month is the last day of this one (2000: a leap year, for MM-DD).
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (day <= days) return;
    problems.push({
      pointer: `/calendar/holidays/${i}`,
      code: 'HOLIDAY_DATE_INVALID',
      authoringOnly: true,
      message: `"${holiday}" is not a day of the calendar (${m[1] === undefined ? `month ${m[2]} has ${days} days` : `${m[2]}/${m[1]} has ${days} days`}): the holiday would never apply. Correct the date.`,
    });
  });
  return problems;
}
