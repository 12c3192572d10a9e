import { EVENTS, type EventName } from '@ledgerline/contracts';
import type { Viewer } from './visibility';

/**
 * Fields of an event's `data` that are staff's own free text: what an agent or supervisor typed for the operator's
 * records (a ticket, a bank reference, why a refund or an adjustment was asked for or decided). Subscribers never
 * tells them to the customer, and invoicing has no partner-facing API that shows them; a partner (an MVNO) whose hub
 * sees only its own customers does not get them either. The operator's hubs and partners granted ALL (its own
 * integrations) get the event as published.
 */
export const STAFF_ONLY_FIELDS: Readonly<Partial<Record<EventName, readonly string[]>>> = {
  // "`note` is staff's text (the bank's or provider's reference, a ticket): not for the customer" (contracts).
  rechargeResolved: ['note'],
  // The refund's reason, the REFUND credit note's or the approval request's: staff's note, "it may be internal".
  refundCreated: ['reason'],
  // Four-eyes requests: the agent's reason and the supervisor's note.
  approvalRequested: ['reason', 'decisionNote'],
  approvalDecided: ['reason', 'decisionNote'],
  approvalExpired: ['reason', 'decisionNote'],
  balanceAdjustmentRequested: ['reason', 'decisionNote'],
  balanceAdjustmentDecided: ['reason', 'decisionNote'],
  balanceAdjustmentExpired: ['reason', 'decisionNote'],
};

const BY_SUBJECT = new Map<string, readonly string[]>();
for (const [name, fields] of Object.entries(STAFF_ONLY_FIELDS)) {
  const subject = EVENTS[name as EventName]?.subject;
  if (subject && fields) BY_SUBJECT.set(subject, [...new Set([...(BY_SUBJECT.get(subject) ?? []), ...fields])]);
}

/**
 * The body a hub is sent: the CloudEvent as published (same id, same bytes) for a hub that sees everything, or
 * when the event carries none of its type's staff-only fields; otherwise the same CloudEvent without them (its id
 * unchanged, so a redelivery or replay still dedupes). A body that is not JSON with an object `data` is kept.
 */
export function payloadFor(viewer: Viewer, subject: string, payload: string): string {
  if (viewer.everything) return payload;
  const fields = BY_SUBJECT.get(subject);
  if (!fields) return payload;
  let event: { data?: unknown };
  try {
    event = JSON.parse(payload) as { data?: unknown };
  } catch {
    return payload;
  }
  const data = event?.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return payload;
  const present = fields.filter((f) => Object.hasOwn(data, f));
  if (!present.length) return payload;
  const kept = { ...(data as Record<string, unknown>) };
  for (const f of present) delete kept[f];
  return JSON.stringify({ ...event, data: kept });
}
