/**
 * Pure derivation of rule facts from (event, subscriber context, plan). Derived facts (zones,
 * time band, day type) are computed here rather than by json-rules-engine fact callbacks so the
 * cached and the plain rating paths see exactly the same values.
 */
import { isDecimalString } from './decimal';
import { DIRECTIONS, USAGE_TYPES, type DayType, type FactName, type TimeBand, type UsageType } from './facts';
import { LocalClock, parseLocalTime, type LocalDate } from './local-time';
import type { PlanDocument, Weekday } from './plan-types';
import { PrefixTable } from './prefix-table';
import { RatingInputError, type SubscriberContext, type UsageEvent } from './usage';

const WEEKDAYS: Weekday[] = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
export const NO_DESTINATION = 'NONE';
export const HOME_ZONE = 'HOME';
/** How the ledger and invoices label roaming usage: `ROAMING_<roaming zone>` (usage's zoneOf). */
export const ROAMING_LABEL_PREFIX = 'ROAMING_';

interface BandWindow {
  band: TimeBand;
  days: Set<DayType> | undefined;
  from: number;
  to: number;
}

/**
 * `plan.zones[key]` read as the validator needs it: it asks for a plan's zone names (the values
 * rules may compare zone facts with) on documents the schema refused too, where a table may be
 * null, a list an object, an entry null; those report their schema problem instead of a TypeError.
 */
function zoneTable(plan: PlanDocument, key: 'destinations' | 'roaming'): Record<string, unknown> {
  const zones: unknown = plan.zones;
  const table: unknown = typeof zones === 'object' && zones !== null ? (zones as Record<string, unknown>)[key] : undefined;
  return typeof table === 'object' && table !== null ? (table as Record<string, unknown>) : {};
}

function zoneNamesOf(entries: unknown): string[] {
  if (!Array.isArray(entries)) return [];
  return entries.flatMap((entry: unknown) => (typeof entry === 'object' && entry !== null && typeof (entry as { zone?: unknown }).zone === 'string' ? [(entry as { zone: string }).zone] : []));
}

/** Lookup tables built once per plan version. */
export class PlanFactTables {
  readonly clock: LocalClock;
  private readonly prefixes: PrefixTable<string>;
  private readonly defaultDestination: string;
  private readonly premiumPrefixes: PrefixTable<true>;
  private readonly roamingByCountry = new Map<string, string>();
  private readonly roamingByMcc = new Map<string, string>();
  private readonly defaultRoaming: string;
  private readonly homeCountry: string;
  private readonly homeMccs: Set<string>;
  private readonly countryCallingCode: string | undefined;
  private readonly weekend: Set<number>;
  private readonly holidays: Set<string>;
  private readonly bands: BandWindow[];
  private readonly defaultBand: TimeBand;
  /** Relevant allowance per usage type: the first allowance (plan, then add-ons) covering it. */
  private readonly allowanceByUsageType = new Map<UsageType, string>();

  constructor(plan: PlanDocument) {
    this.clock = new LocalClock(plan.timezone);
    // The longest matching prefix is the most specific one.
    this.prefixes = new PrefixTable((plan.zones.destinations?.prefixes ?? []).map((e) => ({ prefix: e.prefix, value: e.zone })));
    this.defaultDestination = plan.zones.destinations?.default ?? 'OTHER';
    this.premiumPrefixes = new PrefixTable((plan.zones.premiumPrefixes ?? []).map((prefix) => ({ prefix, value: true as const })));
    for (const zone of plan.zones.roaming?.zones ?? []) {
      for (const country of zone.countries ?? []) if (!this.roamingByCountry.has(country)) this.roamingByCountry.set(country, zone.zone);
      for (const mcc of zone.mccs ?? []) if (!this.roamingByMcc.has(mcc)) this.roamingByMcc.set(mcc, zone.zone);
    }
    this.defaultRoaming = plan.zones.roaming?.default ?? 'WORLD';
    this.homeCountry = plan.zones.homeCountry;
    this.homeMccs = new Set(plan.zones.homeMccs ?? []);
    this.countryCallingCode = plan.zones.countryCallingCode;
    this.weekend = new Set((plan.calendar?.weekendDays ?? ['SAT', 'SUN']).map((day) => WEEKDAYS.indexOf(day)));
    this.holidays = new Set(plan.calendar?.holidays ?? []);
    this.bands = (plan.timeBands?.windows ?? []).map((window) => ({
      band: window.band,
      days: window.days ? new Set(window.days) : undefined,
      from: parseLocalTime(window.from),
      to: parseLocalTime(window.to),
    }));
    this.defaultBand = plan.timeBands?.default ?? 'OFFPEAK';
    for (const allowance of [...plan.allowances, ...(plan.addOns ?? []).flatMap((addOn) => addOn.allowances)]) {
      for (const usageType of allowance.usageTypes) {
        if (!this.allowanceByUsageType.has(usageType)) this.allowanceByUsageType.set(usageType, allowance.id);
      }
    }
  }

  /** The zone names a plan can produce, i.e. the domain of destinationZone. */
  static destinationZones(plan: PlanDocument): string[] {
    const table = zoneTable(plan, 'destinations');
    return [...new Set<string>([NO_DESTINATION, (table.default as string | undefined) ?? 'OTHER', ...zoneNamesOf(table.prefixes)])];
  }

  /** The domain of roamingZone. */
  static roamingZones(plan: PlanDocument): string[] {
    const table = zoneTable(plan, 'roaming');
    return [...new Set<string>([HOME_ZONE, (table.default as string | undefined) ?? 'WORLD', ...zoneNamesOf(table.zones)])];
  }

  relevantAllowance(usageType: UsageType): string | undefined {
    return this.allowanceByUsageType.get(usageType);
  }

  // destinationZone and premiumNumber both read the same event's number: remember the last one.
  private lastRawNumber: string | undefined;
  private lastNumber = '';

  normaliseNumber(calledNumber: string): string {
    if (calledNumber === this.lastRawNumber) return this.lastNumber;
    let number = calledNumber.replace(/[\s().-]/g, '');
    if (number.startsWith('00')) number = `+${number.slice(2)}`;
    else if (number.startsWith('0') && this.countryCallingCode) number = `${this.countryCallingCode}${number.slice(1)}`;
    this.lastRawNumber = calledNumber;
    this.lastNumber = number;
    return number;
  }

  destinationZone(calledNumber: string | undefined): string {
    if (!calledNumber) return NO_DESTINATION;
    const number = this.normaliseNumber(calledNumber);
    return this.prefixes.match(number) ?? this.defaultDestination;
  }

  isPremium(calledNumber: string | undefined): boolean {
    if (!calledNumber) return false;
    const number = this.normaliseNumber(calledNumber);
    return this.premiumPrefixes.match(number) === true;
  }

  roamingZone(event: UsageEvent): string {
    if (event.visitedMcc !== undefined) {
      if (this.homeMccs.has(event.visitedMcc)) return HOME_ZONE;
      return this.roamingByMcc.get(event.visitedMcc) ?? this.defaultRoaming;
    }
    if (event.roamingCountry !== undefined) {
      if (event.roamingCountry === this.homeCountry) return HOME_ZONE;
      return this.roamingByCountry.get(event.roamingCountry) ?? this.defaultRoaming;
    }
    return HOME_ZONE;
  }

  dayType(epochMs: number): DayType {
    return this.dayTypeOf(this.clock.at(epochMs));
  }

  private dayTypeOf(local: LocalDate): DayType {
    if (this.holidays.has(local.date) || this.holidays.has(local.monthDay)) return 'HOLIDAY';
    return this.weekend.has(local.weekday) ? 'WEEKEND' : 'WEEKDAY';
  }

  /**
   * The band of the event's minute: the first window that holds the minute (`from` inclusive, `to`
   * exclusive) on a day of its `days`. A window whose end is before its start wraps midnight
   * (22:00 → 06:00), and such a night belongs to the day it started on: its minutes after midnight
   * are matched against the day before (a WEEKEND night 22:00 → 06:00 holds Monday 02:00, Sunday's
   * night, and not Saturday 01:00, Friday's). The `dayType` fact stays the event's own day.
   */
  timeBand(epochMs: number): TimeBand {
    const local = this.clock.at(epochMs);
    const minute = local.minuteOfDay;
    let today: DayType | undefined;
    let dayBefore: DayType | undefined;
    for (const window of this.bands) {
      const wraps = window.to < window.from;
      const inside = wraps ? minute >= window.from || minute < window.to : minute >= window.from && minute < window.to;
      if (!inside) continue;
      if (window.days) {
        const startedDayBefore = wraps && minute < window.to;
        const dayType = startedDayBefore ? (dayBefore ??= this.dayTypeOf(this.clock.dayOf(local.localDay - 1))) : (today ??= this.dayTypeOf(local));
        if (!window.days.has(dayType)) continue;
      }
      return window.band;
    }
    return this.defaultBand;
  }
}

/**
 * Most decimals an event quantity may have: what usage ingestion accepts and stores (NUMERIC(20, 6),
 * services/usage usage-input.ts), so a record rates the same in simulation as in production.
 */
export const MAX_QUANTITY_DECIMALS = 6;

/** Checks an event before any fact is read, so both rating paths reject the same inputs. */
export function assertValidEvent(event: UsageEvent): number {
  if (!USAGE_TYPES.includes(event.usageType)) {
    throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: usageType must be one of ${USAGE_TYPES.join(', ')}`);
  }
  if (!(DIRECTIONS as readonly string[]).includes(event.direction) && event.direction !== 'MO' && event.direction !== 'MT') {
    throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: direction must be OUTGOING, INCOMING, MO or MT`);
  }
  if (!isDecimalString(event.quantity) || event.quantity.startsWith('-')) {
    throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: quantity must be a non-negative decimal string`);
  }
  const dot = event.quantity.indexOf('.');
  if (dot !== -1 && event.quantity.length - dot - 1 > MAX_QUANTITY_DECIMALS) {
    const shown = event.quantity.length > 24 ? `${event.quantity.slice(0, 24)}…` : event.quantity;
    throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: quantity ${shown} has more than ${MAX_QUANTITY_DECIMALS} decimals; round it to at most ${MAX_QUANTITY_DECIMALS} (as usage records are)`);
  }
  if (event.precedingQuantity !== undefined) {
    const preceding = event.precedingQuantity;
    if (!isDecimalString(preceding) || preceding.startsWith('-') || (preceding.includes('.') && preceding.length - preceding.indexOf('.') - 1 > MAX_QUANTITY_DECIMALS)) {
      throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: precedingQuantity must be a non-negative decimal string with at most ${MAX_QUANTITY_DECIMALS} decimals`);
    }
  }
  const epochMs = Date.parse(event.occurredAt);
  if (Number.isNaN(epochMs)) {
    throw new RatingInputError('RATING_INVALID_EVENT', `event ${event.id}: occurredAt must be an ISO 8601 instant`);
  }
  return epochMs;
}

/** Reads one fact. `epochMs` is the event's parsed occurredAt. */
export function deriveFact(
  name: FactName,
  event: UsageEvent,
  epochMs: number,
  ctx: SubscriberContext,
  tables: PlanFactTables,
): unknown {
  switch (name) {
    case 'usageType':
      return event.usageType;
    case 'direction':
      return event.direction === 'MO' ? 'OUTGOING' : event.direction === 'MT' ? 'INCOMING' : event.direction;
    case 'destinationZone':
      return tables.destinationZone(event.calledNumber);
    case 'premiumNumber':
      return tables.isPremium(event.calledNumber);
    case 'roamingZone':
      return tables.roamingZone(event);
    case 'timeBand':
      return tables.timeBand(epochMs);
    case 'dayType':
      return tables.dayType(epochMs);
    case 'accountType':
      return ctx.accountType;
    case 'customerType':
      return ctx.customerType ?? 'INDIVIDUAL';
    case 'lineCount':
      return ctx.lineCount ?? 1;
    case 'lineStatus':
      return ctx.lineStatus;
    case 'allowanceUsedRatio': {
      const allowanceId = tables.relevantAllowance(event.usageType);
      return (allowanceId !== undefined ? ctx.allowanceUsedRatios?.[allowanceId] : undefined) ?? '0';
    }
    case 'spendInPeriod':
      return ctx.spendInPeriod ?? '0';
    case 'activeAddOns':
      return ctx.activeAddOns ?? [];
    case 'creditClass':
    case 'tenureMonths':
      // Eligibility-only facts: the validator keeps them out of rating rules.
      throw new RatingInputError('RATING_INVALID_CONTEXT', `fact ${name} is not available when rating usage`);
  }
}
