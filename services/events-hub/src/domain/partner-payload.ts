import { EVENTS, type EventName } from '@ledgerline/contracts';
import type { Viewer } from './visibility';

/**
 * Fields of an event's `data` that are the operator's own: staff's free text (what an agent or supervisor typed for the
 * operator's records: a ticket, a bank reference, why a refund or an adjustment was asked for or decided), staff's
 * identities (the subject of the agent, supervisor or finance clerk who did it, or the system's) and the system's
 * failure texts (a refused approval's `failureReason`: the operation's refusal message, which can name another staff
 * member, the provider's key for the request, ids; its `failureCode` stays). Subscribers never tells them to the
 * customer, and invoicing has no partner-facing API that shows them; a partner (an MVNO) whose hub sees only its own
 * customers does not get them either. The roles (`…ByRole`) stay: they say what kind of actor, not who. The operator's
 * hubs and partners granted ALL (its own integrations) get the event as published.
 */
export const STAFF_ONLY_FIELDS: Readonly<Partial<Record<EventName, readonly string[]>>> = {
  // "`note` is staff's text (the bank's or provider's reference, a ticket): not for the customer" (contracts);
  // resolvedBy: the staff member who resolved it (resolveRefundFailedRecharge is staff's).
  rechargeResolved: ['note', 'resolvedBy'],
  // The refund's reason, the REFUND credit note's or the approval request's: staff's note, "it may be internal";
  // refundedBy (refundPayment and credit notes are staff's: the agent, an approved request's requester) and approvedBy
  // (the supervisor).
  refundCreated: ['reason', 'refundedBy', 'approvedBy'],
  // Four-eyes requests: the agent's reason and who asked (requestedBy: an AGENT over the limit), the supervisor's note
  // and who decided (decidedBy: a supervisor; null when the system closed it), and a FAILED one's failureReason.
  approvalRequested: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  approvalDecided: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  approvalExpired: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  balanceAdjustmentRequested: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  balanceAdjustmentDecided: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  balanceAdjustmentExpired: ['reason', 'decisionNote', 'requestedBy', 'decidedBy', 'failureReason'],
  // An agent's adjustment (adjustBalance is staff's): their reason and who (`agent`: the caller's subject).
  balanceAdjusted: ['reason', 'agent'],
  // Finance's payout and its return (an approver or the system): who recorded it. The bank's returnReason stays.
  walletPaidOut: ['paidOutBy'],
  walletPayoutReturned: ['returnedBy'],
};

/**
 * A field whose value is sometimes the operator's and sometimes not: kept for a partner hub when `keep` says so, else
 * dropped. A dispute's `decidedBy` names how it was closed (`auto:<rule>`, `rerate:<charge>`: credited on the next
 * invoice, `creditNote:<number>`, `regenerateInvoice`, `resolveDispute`), which the partner needs to tell its customer
 * what happens, or who closed it (an agent's or the system's subject, the customer's on a withdrawal): who is not told.
 */
export const STAFF_ONLY_VALUES: Readonly<Partial<Record<EventName, Readonly<Record<string, (value: unknown) => boolean>>>>> = {
  disputeResolved: { decidedBy: (v) => typeof v === 'string' && (/^(auto|rerate|creditNote):/.test(v) || v === 'regenerateInvoice' || v === 'resolveDispute') },
};

/** Per subject: each withheld field and whether a value of it is kept (never, for STAFF_ONLY_FIELDS). */
const BY_SUBJECT = new Map<string, Map<string, (value: unknown) => boolean>>();
const never = (): boolean => false;
function withhold(name: string, field: string, keep: (value: unknown) => boolean): void {
  const subject = EVENTS[name as EventName]?.subject;
  if (!subject) return;
  const fields = BY_SUBJECT.get(subject) ?? new Map<string, (value: unknown) => boolean>();
  fields.set(field, fields.get(field) === never ? never : keep);
  BY_SUBJECT.set(subject, fields);
}
for (const [name, fields] of Object.entries(STAFF_ONLY_FIELDS)) for (const f of fields ?? []) withhold(name, f, never);
for (const [name, fields] of Object.entries(STAFF_ONLY_VALUES)) for (const [f, keep] of Object.entries(fields ?? {})) withhold(name, f, keep);

/**
 * The body a hub is sent: the CloudEvent as published (same id, same bytes) for a hub that sees everything, or
 * when the event carries none of its type's staff-only fields (STAFF_ONLY_FIELDS, STAFF_ONLY_VALUES' not kept);
 * otherwise the same CloudEvent without them (its id unchanged, so a redelivery or replay still dedupes). A body that is not JSON with an object `data` is kept.
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
  const present = [...fields].filter(([f, keep]) => Object.hasOwn(data, f) && !keep((data as Record<string, unknown>)[f])).map(([f]) => f);
  if (!present.length) return payload;
  const kept = { ...(data as Record<string, unknown>) };
  for (const f of present) delete kept[f];
  return JSON.stringify({ ...event, data: kept });
}
