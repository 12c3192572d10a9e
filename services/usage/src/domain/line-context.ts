/**
 * What usage's read model can store of a line or subscription (subscribers' events and the admin
 * mutation `upsertLineContext` alike): ids within their columns, no NUL character (PostgreSQL
 * refuses it in any text), dates that are dates, and the MSISDN in the form usage events are
 * matched by (E.164 digits with a leading `+`, as `validateUsage` normalises a record's number).
 * Anything else used to reach PostgreSQL and fail there: an INTERNAL_SERVER_ERROR for the
 * mutation, and for an event a batch retried forever (a poison message holding back every later
 * subscribers event).
 */
/** Column sizes of line_state / subscription_version / account_owner (and the records that copy them). */
const MAX = { lineId: 40, billingAccountId: 40, customerId: 40, partnerId: 100, subscriptionId: 40, planVersionId: 40, planCode: 64, status: 16, paymentMode: 16, currency: 3, addOnCode: 64 } as const;
const MSISDN = /^\+?[1-9]\d{6,14}$/;

export interface LineContextProblem {
  /** The field at fault, relative to the line (`msisdn`, `subscription.subscriptionId`, …). */
  field: string;
  message: string;
  code: string;
}

/** An MSISDN as usage events are matched by (`+4915112345678`), or undefined when it is not an E.164 number. */
export function normalizeMsisdn(raw: string): string | undefined {
  const compact = raw.replace(/[\s()-]/g, '');
  if (!MSISDN.test(compact)) return undefined;
  return compact.startsWith('+') ? compact : `+${compact}`;
}

function textProblem(field: string, value: unknown, max: number, required: boolean): LineContextProblem | undefined {
  if (value === undefined || value === null || value === '') return required ? { field, message: `${field} is missing`, code: 'LINE_CONTEXT_INVALID' } : undefined;
  if (typeof value !== 'string') return { field, message: `${field} is not a text`, code: 'LINE_CONTEXT_INVALID' };
  if (value.includes('\u0000')) return { field, message: `${field} contains a NUL character`, code: 'LINE_CONTEXT_INVALID' };
  if (value.length > max) return { field, message: `${field} is longer than ${max} characters`, code: 'LINE_CONTEXT_INVALID' };
  return undefined;
}

function dateProblem(field: string, value: unknown, required: boolean): LineContextProblem | undefined {
  if (value === undefined || value === null) return required ? { field, message: `${field} is missing`, code: 'LINE_CONTEXT_INVALID' } : undefined;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) return { field, message: `${field} is not a date-time`, code: 'LINE_CONTEXT_INVALID' };
  return undefined;
}

/** The line part (line event, or upsertLineContext's top level); a number must normalise (normalizeMsisdn gives the form to store). */
export function lineProblem(d: { lineId: string; billingAccountId: string; status: string; msisdn?: string | null }): LineContextProblem | undefined {
  if (typeof d.msisdn === 'string' && d.msisdn !== '' && !normalizeMsisdn(d.msisdn)) {
    return { field: 'msisdn', message: `msisdn "${d.msisdn.replaceAll('\u0000', '\uFFFD').slice(0, 32)}" is not an E.164 number (at most 15 digits)`, code: 'MSISDN_INVALID' };
  }
  if (d.msisdn !== undefined && d.msisdn !== null && typeof d.msisdn !== 'string') return { field: 'msisdn', message: 'msisdn is not a text', code: 'MSISDN_INVALID' };
  return textProblem('lineId', d.lineId, MAX.lineId, true) ?? textProblem('billingAccountId', d.billingAccountId, MAX.billingAccountId, true) ?? textProblem('status', d.status, MAX.status, true);
}

/** The subscription part (subscription event, or upsertLineContext's `subscription`), fields named under `prefix`. */
export function subscriptionProblem(
  s: { subscriptionId: string; paymentMode: string; currency: string; planCode: string; planVersionId: string; status?: string | null; startsAt: unknown; endsAt?: unknown; addOns?: { code: string; startsAt: unknown; endsAt?: unknown }[] | null },
  prefix = 'subscription.',
): LineContextProblem | undefined {
  const named = (p: LineContextProblem | undefined) => p && { ...p, field: `${prefix}${p.field}`, message: `${prefix}${p.message}` };
  const first =
    textProblem('subscriptionId', s.subscriptionId, MAX.subscriptionId, true) ??
    textProblem('planVersionId', s.planVersionId, MAX.planVersionId, true) ??
    textProblem('planCode', s.planCode, MAX.planCode, true) ??
    textProblem('paymentMode', s.paymentMode, MAX.paymentMode, true) ??
    textProblem('currency', s.currency, MAX.currency, true) ??
    textProblem('status', s.status, MAX.status, false) ??
    dateProblem('startsAt', s.startsAt, true) ??
    dateProblem('endsAt', s.endsAt, false);
  if (first) return named(first);
  if (s.addOns !== undefined && s.addOns !== null && !Array.isArray(s.addOns)) return named({ field: 'addOns', message: 'addOns is not a list', code: 'LINE_CONTEXT_INVALID' });
  for (const [i, a] of (s.addOns ?? []).entries()) {
    const p = (typeof a === 'object' && a !== null ? undefined : { field: '', message: 'is not an object', code: 'LINE_CONTEXT_INVALID' }) ?? textProblem('code', a.code, MAX.addOnCode, true) ?? dateProblem('startsAt', a.startsAt, true) ?? dateProblem('endsAt', a.endsAt, false);
    if (p) return named({ ...p, field: `addOns.${i}${p.field ? `.${p.field}` : ''}`, message: `addOns.${i}${p.field ? '.' : ' '}${p.message}` });
  }
  return undefined;
}

/** A billing account's id as account_owner (and the records that copy it) can store it: a text within its column, no NUL. */
export function billingAccountIdProblem(value: unknown): LineContextProblem | undefined {
  return textProblem('billingAccountId', value, MAX.billingAccountId, true);
}

/** A billingaccount event's owner: the account, the customer that owns it (ids as subscribers makes them) and the partner it is assigned to, if any. */
export function accountOwnerProblem(d: { billingAccountId?: unknown; customerId?: unknown; partnerId?: unknown }): LineContextProblem | undefined {
  return billingAccountIdProblem(d.billingAccountId) ?? textProblem('customerId', d.customerId, MAX.customerId, true)
    ?? textProblem('partnerId', d.partnerId, MAX.partnerId, false);
}

/** A billingaccount event's `partnerVersion` (which assignment of the account's partner it carries): a whole number from 0. */
export function partnerVersionProblem(value: unknown): LineContextProblem | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return undefined;
  return { field: 'partnerVersion', message: value === undefined || value === null ? 'partnerVersion is missing (a partner change carries the version of the assignment)' : 'partnerVersion is not a whole number from 0', code: 'LINE_CONTEXT_INVALID' };
}
