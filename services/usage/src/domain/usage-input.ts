/**
 * Validation of one incoming usage record, whatever path it came by (GraphQL, JetStream, CSV).
 * Pure: a record is either valid (normalised) or rejected with a stable code and a reason a
 * person can act on. Nothing is dropped: rejected records are stored with their raw payload.
 */
import { createHash } from 'node:crypto';
import { MAX_QUANTITY_DECIMALS } from '@ledgerline/rating';

export const USAGE_TYPES = ['VOICE', 'SMS', 'MMS', 'DATA', 'CONTENT'] as const;
export type UsageType = (typeof USAGE_TYPES)[number];
export type Direction = 'OUTGOING' | 'INCOMING';

export const UNIT_OF: Record<UsageType, string> = { VOICE: 'SECOND', SMS: 'MESSAGE', MMS: 'MESSAGE', DATA: 'MB', CONTENT: 'ITEM' };

/** Largest accepted quantity of one record, in its unit (about 11.5 days of voice, 1 PB of data). */
export const MAX_QUANTITY = 1_000_000_000;
/** Events stamped further than this in the future are clock errors, not usage. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface ValidUsage {
  source: string;
  eventId: string;
  lineId?: string;
  msisdn?: string;
  usageType: UsageType;
  direction: Direction;
  quantity: string;
  /**
   * Units of the same call rated before this record (rating's UsageEvent.precedingQuantity): only
   * on records usage makes itself of an online session's reports (validateUsage's `partsOf`).
   */
  precedingQuantity?: string;
  unit: string;
  occurredAt: Date;
  calledNumber?: string;
  roamingCountry?: string;
  visitedMcc?: string;
}

export interface Rejection {
  code: string;
  reason: string;
}

export type ValidationResult = { ok: true; usage: ValidUsage } | { ok: false; source: string; eventId: string; rejection: Rejection; partial: Partial<ValidUsage> };

/**
 * A quantity: a non-negative decimal with at most rating's `MAX_QUANTITY_DECIMALS` decimals (the
 * one rule: what rating accepts, what the NUMERIC(20, 6) quantity column stores exactly).
 */
const DECIMAL = new RegExp(`^\\d{1,12}(\\.\\d{1,${MAX_QUANTITY_DECIMALS}})?$`);

/**
 * A quantity as usage holds and rates it, or undefined when `value` is not one: a decimal string or a whole JSON number
 * (a fraction is not taken: it may not be what was sent). Leading zeros are dropped ("05" is 5, "00.5" is 0.5): rating's
 * decimal format has none and refused such a record, though the number it writes is plain. The one rule for every path
 * (validateUsage for recordUsage, JetStream and CSV; the charging session's units).
 */
export function quantityText(value: unknown): string | undefined {
  const digits = text(value);
  if (digits === undefined || !DECIMAL.test(digits)) return undefined;
  return digits.replace(/^0+(?=\d)/, '');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const MSISDN = /^\+?[1-9]\d{6,14}$/;
/** Usage from before this is a typo or a broken clock (and PostgreSQL has no year 0000). */
const EARLIEST_YEAR = 1970;

/**
 * Text PostgreSQL can store: it refuses the NUL character in any text value, and one such value
 * used to fail the whole batch's insert. A record holding one is rejected; what is stored of it
 * (ids, raw payload) shows the character as U+FFFD.
 */
export function storable(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

/** The first top-level field of a record whose text holds a NUL character. */
function fieldWithNul(r: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(r)) if (typeof value === 'string' && value.includes('\u0000')) return key;
  return undefined;
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

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** An id for a record that came without one: the hash of its content, so a resend is still a duplicate. */
export function contentEventId(raw: unknown): string {
  const json = typeof raw === 'string' ? raw : JSON.stringify(raw ?? null);
  return `noid:${createHash('sha256').update(json ?? 'undefined').digest('hex').slice(0, 32)}`;
}

/** A rejection of validateUsage. Not a closure in it: tsx (esbuild keepNames) names every named closure with a defineProperty, ~0.3 µs per record. */
function reject(code: string, reason: string, source: string, eventId: string, partial: Partial<ValidUsage> = {}): ValidationResult {
  return { ok: false, source: storable(source), eventId: storable(eventId), rejection: { code, reason }, partial };
}

/**
 * `defaults.partsOf`: the source whose records may be later parts of one call (`precedingQuantity`,
 * usage's own online-session records); any other record's precedingQuantity is not read.
 */
export function validateUsage(raw: unknown, defaults: { source: string; eventId?: string; partsOf?: string }, now: Date): ValidationResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('RECORD_MALFORMED', 'the record is not a JSON object', defaults.source, defaults.eventId ?? contentEventId(raw));
  }
  const r = raw as Record<string, unknown>;
  const source = text(r.source) ?? defaults.source;
  const rawEventId = text(r.eventId) ?? defaults.eventId;
  const eventId = rawEventId ?? contentEventId(raw);
  const partial: Partial<ValidUsage> = {};
  const nul = fieldWithNul(r);
  // Rejections keep the ids as sent (the record id is made from them, so two long ids that share
  // their first characters stay two records); the stored columns are cut to size when written.
  if (nul) return reject('RECORD_MALFORMED', `${nul} contains a NUL character`, source, eventId);
  if (source.length > 64) return reject('SOURCE_INVALID', 'source is longer than 64 characters', source, eventId);
  if (typeof r.unparseable === 'string') return reject('RECORD_MALFORMED', `the record could not be parsed at its source: ${r.unparseable.slice(0, 300)}`, source, eventId);
  if (!rawEventId) return reject('EVENT_ID_MISSING', 'eventId is missing: every record needs a unique id within its source', source, eventId);
  if (eventId.length > 128) return reject('EVENT_ID_INVALID', 'eventId is longer than 128 characters', source, eventId);

  const lineId = text(r.lineId);
  const msisdnText = text(r.msisdn);
  if (lineId !== undefined) partial.lineId = lineId.slice(0, 40);
  if (!lineId && !msisdnText) return reject('SUBSCRIBER_MISSING', 'the record names neither lineId nor msisdn', source, eventId, partial);
  if (lineId && lineId.length > 40) return reject('LINE_ID_INVALID', `lineId "${lineId.slice(0, 40)}…" is longer than 40 characters`, source, eventId, {});
  let msisdn: string | undefined;
  if (msisdnText !== undefined) {
    const compact = msisdnText.replace(/[\s()-]/g, '');
    if (!MSISDN.test(compact)) return reject('MSISDN_INVALID', `msisdn "${msisdnText.slice(0, 32)}" is not an E.164 number`, source, eventId, partial);
    msisdn = compact.startsWith('+') ? compact : `+${compact}`;
    partial.msisdn = msisdn;
  }

  const usageType = text(r.usageType)?.toUpperCase();
  if (!usageType || !(USAGE_TYPES as readonly string[]).includes(usageType)) {
    return reject('USAGE_TYPE_INVALID', `usageType ${usageType ? `"${usageType.slice(0, 16)}"` : 'is missing; it'} must be one of ${USAGE_TYPES.join(', ')}`, source, eventId, partial);
  }
  partial.usageType = usageType as UsageType;

  const directionText = (text(r.direction) ?? 'OUTGOING').toUpperCase();
  const direction = directionText === 'MO' ? 'OUTGOING' : directionText === 'MT' ? 'INCOMING' : directionText;
  if (direction !== 'OUTGOING' && direction !== 'INCOMING') return reject('DIRECTION_INVALID', `direction "${directionText.slice(0, 16)}" must be OUTGOING, INCOMING, MO or MT`, source, eventId, partial);
  partial.direction = direction;

  const given = text(r.quantity);
  if (given === undefined) {
    return reject('QUANTITY_INVALID', r.quantity === undefined || r.quantity === null || r.quantity === '' ? 'quantity is missing' : 'quantity must be a decimal string such as "12.5" (fractional numbers are not accepted as JSON numbers)', source, eventId, partial);
  }
  const quantity = quantityText(given);
  if (quantity === undefined) return reject('QUANTITY_INVALID', `quantity "${given.slice(0, 24)}" is not a non-negative decimal with at most ${MAX_QUANTITY_DECIMALS} decimals`, source, eventId, partial);
  if (Number(quantity.split('.')[0]) > MAX_QUANTITY) return reject('QUANTITY_TOO_LARGE', `quantity ${quantity} is above the ${MAX_QUANTITY} limit of one record`, source, eventId, partial);
  partial.quantity = quantity;
  let precedingQuantity: string | undefined;
  if (defaults.partsOf !== undefined && source === defaults.partsOf && r.precedingQuantity != null) {
    const preceding = quantityText(r.precedingQuantity);
    if (preceding === undefined) return reject('QUANTITY_INVALID', `precedingQuantity must be a non-negative decimal with at most ${MAX_QUANTITY_DECIMALS} decimals`, source, eventId, partial);
    // Nothing before it: the record is the call's first part, rated as a call of its own.
    if (/[1-9]/.test(preceding)) precedingQuantity = partial.precedingQuantity = preceding;
  }

  const occurredText = text(r.occurredAt);
  if (!occurredText) return reject('OCCURRED_AT_INVALID', 'occurredAt is missing', source, eventId, partial);
  const occurredAt = new Date(occurredText);
  if (!ISO_INSTANT.test(occurredText) || Number.isNaN(occurredAt.getTime()) || !calendarValid(occurredText)) {
    return reject('OCCURRED_AT_INVALID', `occurredAt "${occurredText.slice(0, 40)}" is not an ISO 8601 instant with an offset, e.g. 2026-03-14T08:15:00Z`, source, eventId, partial);
  }
  if (occurredAt.getUTCFullYear() < EARLIEST_YEAR) {
    return reject('OCCURRED_AT_INVALID', `occurredAt ${occurredText.slice(0, 40)} is before ${EARLIEST_YEAR}`, source, eventId, partial);
  }
  if (occurredAt.getTime() > now.getTime() + MAX_CLOCK_SKEW_MS) {
    return reject('OCCURRED_AT_IN_FUTURE', `occurredAt ${occurredAt.toISOString()} is in the future`, source, eventId, partial);
  }
  partial.occurredAt = occurredAt;

  const calledNumber = text(r.calledNumber);
  if (calledNumber !== undefined && !/^\+?[0-9*#]{1,32}$/.test(calledNumber.replace(/[\s().-]/g, ''))) {
    return reject('CALLED_NUMBER_INVALID', `calledNumber "${calledNumber.slice(0, 40)}" is not a phone number`, source, eventId, partial);
  }
  const roamingCountry = text(r.roamingCountry)?.toUpperCase();
  if (roamingCountry !== undefined && !/^[A-Z]{2}$/.test(roamingCountry)) return reject('ROAMING_COUNTRY_INVALID', `roamingCountry "${roamingCountry.slice(0, 8)}" is not an ISO 3166 alpha-2 code`, source, eventId, partial);
  const visitedMcc = text(r.visitedMcc);
  if (visitedMcc !== undefined && !/^\d{3}$/.test(visitedMcc)) return reject('VISITED_MCC_INVALID', `visitedMcc "${visitedMcc.slice(0, 8)}" is not a 3-digit mobile country code`, source, eventId, partial);

  return {
    ok: true,
    usage: {
      source,
      eventId,
      ...(lineId ? { lineId } : {}),
      ...(msisdn ? { msisdn } : {}),
      usageType: usageType as UsageType,
      direction,
      quantity,
      ...(precedingQuantity ? { precedingQuantity } : {}),
      unit: UNIT_OF[usageType as UsageType],
      occurredAt,
      ...(calledNumber ? { calledNumber: calledNumber.replace(/[\s().-]/g, '') } : {}),
      ...(roamingCountry ? { roamingCountry } : {}),
      ...(visitedMcc ? { visitedMcc } : {}),
    },
  };
}
