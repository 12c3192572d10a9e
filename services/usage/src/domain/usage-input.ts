/**
 * Validation of one incoming usage record, whatever path it came by (GraphQL, JetStream, CSV).
 * Pure: a record is either valid (normalised) or rejected with a stable code and a reason a
 * person can act on. Nothing is dropped: rejected records are stored with their raw payload.
 */
import { createHash } from 'node:crypto';
import { checkUsageFields, fieldText as text, UNIT_OF_USAGE_TYPE, type UsageType } from '@ledgerline/rating';

/** Usage types and their units are rating's (USAGE_TYPES, UNIT_OF_USAGE_TYPE): one list for what usage takes and rating prices. */
export type { UsageType } from '@ledgerline/rating';
export type Direction = 'OUTGOING' | 'INCOMING';

/**
 * The checks of a record's rating fields (usage type to visited MCC) and their limits are rating's `checkUsageFields`,
 * which catalog's simulation applies too: one rule, so a simulation prices what usage rates.
 */
export { MAX_QUANTITY, MAX_CLOCK_SKEW_MS, quantityText } from '@ledgerline/rating';

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

/** `field`: the record's field at fault, when one is: checkUsageFields's (usageType … visitedMcc), or lineId / msisdn. */
export type ValidationResult = { ok: true; usage: ValidUsage } | { ok: false; source: string; eventId: string; rejection: Rejection; partial: Partial<ValidUsage>; field?: string };

const MSISDN = /^\+?[1-9]\d{6,14}$/;

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

/** An id for a record that came without one: the hash of its content, so a resend is still a duplicate. */
export function contentEventId(raw: unknown): string {
  const json = typeof raw === 'string' ? raw : JSON.stringify(raw ?? null);
  return `noid:${createHash('sha256').update(json ?? 'undefined').digest('hex').slice(0, 32)}`;
}

/** A rejection of validateUsage. Not a closure in it: tsx (esbuild keepNames) names every named closure with a defineProperty, ~0.3 µs per record. */
function reject(code: string, reason: string, source: string, eventId: string, partial: Partial<ValidUsage> = {}, field?: string): ValidationResult {
  return { ok: false, source: storable(source), eventId: storable(eventId), rejection: { code, reason }, partial, ...(field ? { field } : {}) };
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
  if (!lineId && !msisdnText) return reject('SUBSCRIBER_MISSING', 'the record names neither lineId nor msisdn', source, eventId, partial, 'lineId');
  if (lineId && lineId.length > 40) return reject('LINE_ID_INVALID', `lineId "${lineId.slice(0, 40)}…" is longer than 40 characters`, source, eventId, {}, 'lineId');
  let msisdn: string | undefined;
  if (msisdnText !== undefined) {
    const compact = msisdnText.replace(/[\s()-]/g, '');
    if (!MSISDN.test(compact)) return reject('MSISDN_INVALID', `msisdn "${msisdnText.slice(0, 32)}" is not an E.164 number`, source, eventId, partial, 'msisdn');
    msisdn = compact.startsWith('+') ? compact : `+${compact}`;
    partial.msisdn = msisdn;
  }

  const checked = checkUsageFields(r, { now, readPrecedingQuantity: defaults.partsOf !== undefined && source === defaults.partsOf });
  if (!checked.ok) return reject(checked.rejection.code, checked.rejection.reason, source, eventId, Object.assign(partial, checked.partial), checked.rejection.field);
  const f = checked.fields;

  return {
    ok: true,
    usage: {
      source,
      eventId,
      ...(lineId ? { lineId } : {}),
      ...(msisdn ? { msisdn } : {}),
      usageType: f.usageType,
      direction: f.direction,
      quantity: f.quantity,
      ...(f.precedingQuantity ? { precedingQuantity: f.precedingQuantity } : {}),
      unit: UNIT_OF_USAGE_TYPE[f.usageType],
      occurredAt: f.occurredAt,
      ...(f.calledNumber ? { calledNumber: f.calledNumber } : {}),
      ...(f.roamingCountry ? { roamingCountry: f.roamingCountry } : {}),
      ...(f.visitedMcc ? { visitedMcc: f.visitedMcc } : {}),
    },
  };
}
