// Subscribers' events as invoicing's read model takes them: checked before the write, because one
// value the read model's columns refuse fails the whole batch's transaction, and the consumer
// redelivered that batch for ever while invoicing learnt of no later account, subscription or
// one-off charge. The limits are those of the tables (migration 20261126000000_billing).
import { EVENTS, isCurrencyCode, isDecimalString, dec, oneOffDescription, parseCloudEvent, type CloudEvent } from '@ledgerline/contracts';
import { invoiceSeriesProblem } from '../domain/document-series';
import { isValidTimeZone } from '../domain/period';
import { shown } from '../application/read-model';

export const ONE_OFF_SUBJECT = (EVENTS as Record<string, { subject: string }>).oneOffChargeCreated?.subject ?? 'billing.subscribers.oneoffcharge.created';

export interface EventProblem {
  /** The field of the event's `data` at fault (`data` itself when it is no object). */
  field: string;
  message: string;
}

type Data = Record<string, unknown>;
type Check = (d: Data, event: CloudEvent) => EventProblem | undefined;

/** Years a date must fall in: PostgreSQL reaches further than this, but nothing invoicing bills lies outside them. */
const EARLIEST_YEAR = 1970;
const LATEST_YEAR = 9999;
const INT4_MAX = 2_147_483_647;

/** A text of at most `max` characters (varchar(n) counts characters, not UTF-16 units), without NUL. */
const text = (field: string, max: number, optional = false): Check => (d) => {
  const value = d[field];
  if (value == null && optional) return undefined;
  if (typeof value !== 'string' || value === '') return { field, message: `${field} is missing or not a text` };
  if (value.includes('\u0000')) return { field, message: `${field} contains a NUL character` };
  if ([...value].length > max) return { field, message: `${field} is longer than ${max} characters` };
  return undefined;
};

const dateProblem = (field: string, value: unknown): EventProblem | undefined => {
  const at = typeof value === 'string' && value !== '' ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime())) return { field, message: `${field} "${shown(value)}" is not a date-time` };
  const year = at.getUTCFullYear();
  if (year < EARLIEST_YEAR || year > LATEST_YEAR) return { field, message: `${field} "${shown(value)}" is outside the years ${EARLIEST_YEAR}..${LATEST_YEAR}` };
  return undefined;
};

/** A date-time; an optional one may be absent or null (or empty, which the consumer reads as absent). */
const date = (field: string, optional = false): Check => (d) => (optional && (d[field] == null || d[field] === '') ? undefined : dateProblem(field, d[field]));

/** An integer within `min..max`, or absent when optional. */
const integer = (field: string, min: number, max: number, optional = false): Check => (d) => {
  const value = d[field];
  if (value == null && optional) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) return { field, message: `${field} "${shown(value)}" is not a whole number from ${min} to ${max}` };
  return undefined;
};

/** Decimal text a numeric(precision, scale) column holds exactly (`integer` digits before the point). */
const decimal = (field: string, digits: number, scale: number): Check => (d) => {
  const value = d[field];
  if (!isDecimalString(value)) return { field, message: `${field} "${shown(value)}" is not a decimal number` };
  const n = dec(value);
  if (n.decimalPlaces() > scale) return { field, message: `${field} "${shown(value)}" has more than ${scale} decimal places` };
  if (n.abs().gte(dec(`1${'0'.repeat(digits)}`))) return { field, message: `${field} "${shown(value)}" has more than ${digits} digits before the decimal point` };
  return undefined;
};

const oneOf = (field: string, values: readonly string[]): Check => (d) =>
  (typeof d[field] === 'string' && values.includes(d[field] as string) ? undefined : { field, message: `${field} "${shown(d[field])}" is not one of ${values.join(', ')}` });

const check = (field: string, ok: (value: unknown) => boolean, what: string): Check => (d) => (ok(d[field]) ? undefined : { field, message: `${field} "${shown(d[field])}" is not ${what}` });

const SUBSCRIPTION: Check[] = [
  text('subscriptionId', 40), text('lineId', 40), text('msisdn', 20, true), text('billingAccountId', 40),
  text('planCode', 60), text('planVersionId', 60), date('endsAt', true),
];

/** What each consumed subject's `data` must hold for the read model (billing_account, subscription_segment, one_off_charge). */
const CHECKS: Record<string, Check[]> = {
  [EVENTS.billingAccountCreated.subject]: [
    text('billingAccountId', 40), text('customerId', 40, true), oneOf('paymentMode', ['PREPAID', 'POSTPAID']),
    check('currency', (v) => typeof v === 'string' && isCurrencyCode(v), 'a currency invoicing bills in'),
    integer('billCycleDay', 1, 31, true), integer('paymentTermsDays', 0, INT4_MAX, true),
    text('timezone', 64, true), check('timezone', (v) => v == null || (typeof v === 'string' && isValidTimeZone(v)), 'an IANA time zone'),
    // Not on subscribers' event today, but taken from it if there (registerBillingAccount `series`):
    // a credit-note or receipt prefix, or one longer than the column, is refused there, so such an
    // event is left out like the others.
    (d) => {
      const problem = typeof d.series === 'string' ? invoiceSeriesProblem(d.series) : undefined;
      return problem ? { field: 'series', message: problem.message } : undefined;
    },
  ],
  [EVENTS.billingAccountChanged.subject]: [text('billingAccountId', 40), check('changed', (v) => v == null || Array.isArray(v), 'a list')],
  // The account's final period ends at closedAt (application/close-account.ts); the reason is not kept here.
  [EVENTS.billingAccountClosed.subject]: [text('billingAccountId', 40), text('customerId', 40, true), date('closedAt'), check('reason', (v) => v == null || typeof v === 'string', 'a text')],
  [EVENTS.subscriptionCreated.subject]: [...SUBSCRIPTION, date('startsAt')],
  // A dated plan change (`effectiveAt`) takes effect then; else the subscription holds its plan from its startsAt.
  [EVENTS.subscriptionChanged.subject]: [...SUBSCRIPTION, (d, e) => (d.effectiveAt == null ? date('startsAt')(d, e) : dateProblem('effectiveAt', d.effectiveAt))],
  [ONE_OFF_SUBJECT]: [
    text('chargeId', 80), text('billingAccountId', 40), text('lineId', 40, true), text('reason', 40),
    // No check of `description`: money is never dropped for a text (`billedDescription`).
    decimal('amount', 14, 4), check('currency', (v) => typeof v === 'string', 'a text'), date('chargedAt'),
  ],
};

/**
 * What a one-off charge's bill line says, from its event: the `description` (one_off_charge.description
 * holds ONE_OFF_DESCRIPTION_MAX characters, what subscribers sends), cut to that with an ellipsis when
 * longer, NUL characters (which PostgreSQL text refuses) left out; no text at all: its `reason` code.
 * The charge is billed whatever its description (before, a description over 200 characters dropped
 * the event, and the fee was never billed).
 */
export function billedDescription(description: unknown, reason: string): string {
  const text = typeof description === 'string' ? description.replaceAll('\u0000', '') : '';
  return oneOffDescription(text === '' && description !== '' ? reason : text);
}

/** Why this event cannot go into the read model as it is, or undefined when it can. */
export function subscriberEventProblem(subject: string, event: CloudEvent): EventProblem | undefined {
  if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) return { field: 'data', message: 'the event has no data object' };
  for (const c of CHECKS[subject] ?? []) {
    const problem = c(event.data as Data, event);
    if (problem) return problem;
  }
  return undefined;
}

/** An event left out and why: `not_a_cloud_event` (or not JSON), `invalid` (`subscriberEventProblem`). */
export type SubscriberEventChecked = { event: CloudEvent } | { reason: 'not_a_cloud_event' | 'invalid'; details: Record<string, unknown> };

/** The CloudEvent in a message on `subject`, once it passes the checks; else why not, with what to log. */
export function subscriberEventIn(subject: string, text: string): SubscriberEventChecked {
  let event: CloudEvent;
  try {
    event = parseCloudEvent(text);
  } catch (error) {
    return { reason: 'not_a_cloud_event', details: { problem: (error as Error).message, message: shown(text) } };
  }
  const problem = subscriberEventProblem(subject, event);
  if (problem) return { reason: 'invalid', details: { ...eventLabel(event), field: problem.field, problem: problem.message } };
  return { event };
}

/** What names an event in a log line. */
export const eventLabel = (event: Pick<CloudEvent, 'id' | 'type'>): { id: string; type: string } => ({ id: shown(event.id), type: shown(event.type) });

/** The event's id and type, for a log line about a message already checked (nothing when it is none). */
export function labelOf(text: string): { id?: string; type?: string } {
  try {
    return eventLabel(parseCloudEvent(text));
  } catch {
    return {};
  }
}
