/**
 * The one check of a usage record's rating fields (usage type, direction, quantity, time, called number, roaming
 * country, visited MCC), whoever builds the record: usage's ingestion (validateUsage: recordUsage, JetStream, CSV,
 * the charging session's probe) and catalog's simulation (simulateRating, comparePlans). A field is normalised as
 * usage stores it ("fr" → FR, "" → not given, "mo" → OUTGOING, "05" → 5) or the record is refused with a stable
 * code, the field and a reason a person can act on, so a simulation prices what production rates and refuses what
 * production rejects. Pure; `now` is passed in.
 */
import { MAX_QUANTITY_DECIMALS } from './derive-facts';
import { USAGE_TYPES, type UsageType } from './facts';
import type { UsageEvent } from './usage';

/** Largest accepted quantity of one record, in its unit (about 11.5 days of voice, 1 PB of data). */
export const MAX_QUANTITY = 1_000_000_000;
/** Events stamped further than this in the future are clock errors, not usage. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Usage from before this is a typo or a broken clock (and PostgreSQL has no year 0000). */
const EARLIEST_YEAR = 1970;

export type UsageFieldCode =
  | 'USAGE_TYPE_INVALID'
  | 'DIRECTION_INVALID'
  | 'QUANTITY_INVALID'
  | 'QUANTITY_TOO_LARGE'
  | 'OCCURRED_AT_INVALID'
  | 'OCCURRED_AT_IN_FUTURE'
  | 'CALLED_NUMBER_INVALID'
  | 'ROAMING_COUNTRY_INVALID'
  | 'VISITED_MCC_INVALID';

/** A record's rating fields as usage stores and rates them. */
export interface UsageFields {
  usageType: UsageType;
  direction: 'OUTGOING' | 'INCOMING';
  quantity: string;
  /** Only read when asked (`readPrecedingQuantity`), and only kept when not zero. */
  precedingQuantity?: string;
  occurredAt: Date;
  calledNumber?: string;
  roamingCountry?: string;
  visitedMcc?: string;
}

export interface UsageFieldRejection {
  code: UsageFieldCode;
  /** The record's field at fault. */
  field: keyof UsageFields;
  reason: string;
}

/**
 * The event rating prices for a record whose fields passed checkUsageFields, as usage rates it (catalog's
 * simulation, the CLI's). `precedingQuantity` is left out: only usage's own charging sessions give one.
 */
export function usageEventOf(id: string, f: UsageFields, who: Pick<UsageEvent, 'lineId' | 'msisdn'> = {}): UsageEvent {
  return {
    id,
    ...who,
    usageType: f.usageType,
    direction: f.direction,
    quantity: f.quantity,
    occurredAt: f.occurredAt.toISOString(),
    ...(f.calledNumber ? { calledNumber: f.calledNumber } : {}),
    ...(f.roamingCountry ? { roamingCountry: f.roamingCountry } : {}),
    ...(f.visitedMcc ? { visitedMcc: f.visitedMcc } : {}),
  };
}

/** `partial`: the fields accepted before the refused one (usage stores them with the rejected record). */
export type UsageFieldsResult = { ok: true; fields: UsageFields } | { ok: false; rejection: UsageFieldRejection; partial: Partial<UsageFields> };

export interface UsageFieldsOptions {
  /**
   * When given, a record dated more than MAX_CLOCK_SKEW_MS after it is refused (OCCURRED_AT_IN_FUTURE): usage's
   * clock check. A simulation gives none: it may price usage to come (a version scheduled to take effect later).
   */
  now?: Date;
  /** Read `precedingQuantity` (usage's own online-session records); otherwise the field is not read. */
  readPrecedingQuantity?: boolean;
}

/**
 * A quantity: a non-negative decimal with at most `MAX_QUANTITY_DECIMALS` decimals (the one rule: what rating
 * accepts, what usage's NUMERIC(20, 6) quantity column stores exactly).
 */
const DECIMAL = new RegExp(`^\\d{1,12}(\\.\\d{1,${MAX_QUANTITY_DECIMALS}})?$`);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const CALLED_NUMBER = /^\+?[0-9*#]{1,32}$/;
const NUMBER_SPACING = /[\s().-]/g;
const COUNTRY = /^[A-Z]{2}$/;
const MCC = /^\d{3}$/;

/**
 * A field's text: a string trimmed (blank is not given), a whole JSON number as its digits, anything else not given.
 * The one reading of a record's text fields (usage reads its ids with it too).
 */
export function fieldText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/**
 * A quantity as usage holds and rates it, or undefined when `value` is not one: a decimal string or a whole JSON number
 * (a fraction is not taken: it may not be what was sent). Leading zeros are dropped ("05" is 5, "00.5" is 0.5): rating's
 * decimal format has none. The one rule for every path (checkUsageFields; usage's charging session's units).
 */
export function quantityText(value: unknown): string | undefined {
  const digits = fieldText(value);
  if (digits === undefined || !DECIMAL.test(digits)) return undefined;
  return digits.replace(/^0+(?=\d)/, '');
}

/** JS dates roll 2026-02-31 over to March; a record with an impossible date is refused instead. */
function calendarValid(iso: string): boolean {
  // Fixed positions: ISO_INSTANT matched first. No split/map: this runs for every event.
  const y = Number(iso.slice(0, 4));
  const m = Number(iso.slice(5, 7));
  const d = Number(iso.slice(8, 10));
  return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m) && Number(iso.slice(11, 13)) < 24 && Number(iso.slice(14, 16)) < 60;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Not a closure in checkUsageFields: tsx (esbuild keepNames) names every named closure with a defineProperty, per record. */
function refuse(code: UsageFieldCode, field: keyof UsageFields, reason: string, partial: Partial<UsageFields>): UsageFieldsResult {
  return { ok: false, rejection: { code, field, reason }, partial };
}

/**
 * Checks and normalises a record's rating fields, in this order (the first fault is the one reported): usageType,
 * direction (default OUTGOING; MO/MT read as OUTGOING/INCOMING), quantity, precedingQuantity (when asked), occurredAt
 * (ISO 8601 text with an offset), calledNumber, roamingCountry, visitedMcc. Any case, surrounding blanks ignored; a
 * blank optional field is not given.
 */
export function checkUsageFields(r: Readonly<Record<string, unknown>>, options: UsageFieldsOptions = {}): UsageFieldsResult {
  const partial: Partial<UsageFields> = {};
  const usageType = fieldText(r.usageType)?.toUpperCase();
  if (!usageType || !(USAGE_TYPES as readonly string[]).includes(usageType)) {
    return refuse('USAGE_TYPE_INVALID', 'usageType', `usageType ${usageType ? `"${usageType.slice(0, 16)}"` : 'is missing; it'} must be one of ${USAGE_TYPES.join(', ')}`, partial);
  }
  partial.usageType = usageType as UsageType;

  const directionText = (fieldText(r.direction) ?? 'OUTGOING').toUpperCase();
  const direction = directionText === 'MO' ? 'OUTGOING' : directionText === 'MT' ? 'INCOMING' : directionText;
  if (direction !== 'OUTGOING' && direction !== 'INCOMING') return refuse('DIRECTION_INVALID', 'direction', `direction "${directionText.slice(0, 16)}" must be OUTGOING, INCOMING, MO or MT`, partial);
  partial.direction = direction;

  const given = fieldText(r.quantity);
  if (given === undefined) {
    return refuse('QUANTITY_INVALID', 'quantity', r.quantity === undefined || r.quantity === null || r.quantity === '' ? 'quantity is missing' : 'quantity must be a decimal string such as "12.5" (fractional numbers are not accepted as JSON numbers)', partial);
  }
  const quantity = quantityText(given);
  if (quantity === undefined) return refuse('QUANTITY_INVALID', 'quantity', `quantity "${given.slice(0, 24)}" is not a non-negative decimal with at most ${MAX_QUANTITY_DECIMALS} decimals`, partial);
  if (Number(quantity.split('.')[0]) > MAX_QUANTITY) return refuse('QUANTITY_TOO_LARGE', 'quantity', `quantity ${quantity} is above the ${MAX_QUANTITY} limit of one record`, partial);
  partial.quantity = quantity;
  let precedingQuantity: string | undefined;
  if (options.readPrecedingQuantity && r.precedingQuantity != null) {
    const preceding = quantityText(r.precedingQuantity);
    if (preceding === undefined) return refuse('QUANTITY_INVALID', 'precedingQuantity', `precedingQuantity must be a non-negative decimal with at most ${MAX_QUANTITY_DECIMALS} decimals`, partial);
    // Nothing before it: the record is the call's first part, rated as a call of its own.
    if (/[1-9]/.test(preceding)) precedingQuantity = partial.precedingQuantity = preceding;
  }

  const occurredText = fieldText(r.occurredAt);
  if (!occurredText) return refuse('OCCURRED_AT_INVALID', 'occurredAt', 'occurredAt is missing', partial);
  const occurredAt = new Date(occurredText);
  if (!ISO_INSTANT.test(occurredText) || Number.isNaN(occurredAt.getTime()) || !calendarValid(occurredText)) {
    return refuse('OCCURRED_AT_INVALID', 'occurredAt', `occurredAt "${occurredText.slice(0, 40)}" is not an ISO 8601 instant with an offset, e.g. 2026-03-14T08:15:00Z`, partial);
  }
  if (occurredAt.getUTCFullYear() < EARLIEST_YEAR) {
    return refuse('OCCURRED_AT_INVALID', 'occurredAt', `occurredAt ${occurredText.slice(0, 40)} is before ${EARLIEST_YEAR}`, partial);
  }
  if (options.now !== undefined && occurredAt.getTime() > options.now.getTime() + MAX_CLOCK_SKEW_MS) {
    return refuse('OCCURRED_AT_IN_FUTURE', 'occurredAt', `occurredAt ${occurredAt.toISOString()} is in the future`, partial);
  }
  partial.occurredAt = occurredAt;

  const calledNumber = fieldText(r.calledNumber);
  if (calledNumber !== undefined && !CALLED_NUMBER.test(calledNumber.replace(NUMBER_SPACING, ''))) {
    return refuse('CALLED_NUMBER_INVALID', 'calledNumber', `calledNumber "${calledNumber.slice(0, 40)}" is not a phone number`, partial);
  }
  const roamingCountry = fieldText(r.roamingCountry)?.toUpperCase();
  if (roamingCountry !== undefined && !COUNTRY.test(roamingCountry)) return refuse('ROAMING_COUNTRY_INVALID', 'roamingCountry', `roamingCountry "${roamingCountry.slice(0, 8)}" is not an ISO 3166 alpha-2 code`, partial);
  const visitedMcc = fieldText(r.visitedMcc);
  if (visitedMcc !== undefined && !MCC.test(visitedMcc)) return refuse('VISITED_MCC_INVALID', 'visitedMcc', `visitedMcc "${visitedMcc.slice(0, 8)}" is not a 3-digit mobile country code`, partial);

  return {
    ok: true,
    fields: {
      usageType: usageType as UsageType,
      direction,
      quantity,
      ...(precedingQuantity ? { precedingQuantity } : {}),
      occurredAt,
      ...(calledNumber ? { calledNumber: calledNumber.replace(NUMBER_SPACING, '') } : {}),
      ...(roamingCountry ? { roamingCountry } : {}),
      ...(visitedMcc ? { visitedMcc } : {}),
    },
  };
}
