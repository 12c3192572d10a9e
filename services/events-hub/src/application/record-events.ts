import { createHash } from 'node:crypto';
import { isEventSubject, queryMatches, queryMatchesUnknownSubject } from '../domain/query';
import { decide, factsOf, viewerOf, type EventFacts } from '../domain/visibility';
import { payloadFor } from '../domain/partner-payload';
import type { SetAsideReason } from '../metrics';
import { insertDeliveries, listActiveHubs, type NewDelivery } from '../persistence/store';
import { assignmentsOf, insertHeldEvents, lockAccounts, partnersWithScopeAll, recordAssignments, type HeldEvent } from '../persistence/visibility-store';
import { insertUnknownTypeEvents, type UnknownTypeEvent } from '../persistence/unknown-type-store';
import { cloudEventParts, releaseHeldEvents } from './account-partners';
import { noteUnknownTypes } from './unknown-event-types';
import type { HubDeps } from './deps';

/** An event as read from the stream: its subject, CloudEvent id and type, and the exact JSON. */
export interface StreamEvent {
  subject: string;
  eventId: string;
  type: string;
  payload: string;
  /** The CloudEvent's `time` and `data` when the reader parsed them already (else read from `payload`). */
  time?: string;
  data?: unknown;
  /** Its stream sequence, when the reader knows it (a replay's reader): what the hub's account placements must have read. */
  seq?: number;
}

/** Column widths of webhook_delivery (event_id, subject: 200; event_type: 120). */
const LIMITS = { eventId: 200, subject: 200, type: 120 } as const;

/**
 * A value over `limit` characters cut to fit: a prefix and a hash of the whole (deterministic,
 * so the same event read again gives the same row and adds nothing).
 */
function fit(value: string, limit: number): string {
  // PostgreSQL text cannot hold NUL: shown escaped, as JSON writes it (only a set-aside event has one).
  value = value.replaceAll('\u0000', '\\u0000');
  if (value.length <= limit) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 32);
  return `${value.slice(0, limit - hash.length - 1)}~${hash}`;
}

/**
 * Why an event cannot be stored as it is (a NUL character in its id, type or subject, which PostgreSQL text
 * refuses; the first field too long), or undefined. Such an event is not refused (its batch would
 * be redelivered for ever): each matching hub gets it DEAD at once, the fields escaped and cut to
 * fit, the whole CloudEvent kept as payload (JSON writes a NUL as an escape: the text holds it).
 * Likewise an account event whose data the hub locks on or stores cannot be held (`unplaceable` facts,
 * domain/visibility.ts): its account cannot be placed, so only the hubs that see everything get it, DEAD.
 */
function unstorable(e: StreamEvent): { reason: SetAsideReason; text: string } | undefined {
  if (e.eventId.includes('\u0000') || e.type.includes('\u0000') || e.subject.includes('\u0000')) return { reason: 'nul_character', text: 'event id, type or subject holds a NUL character' };
  if (e.eventId.length > LIMITS.eventId) return { reason: 'event_id_too_long', text: `event id is ${e.eventId.length} characters, over ${LIMITS.eventId}` };
  if (e.subject.length > LIMITS.subject) return { reason: 'subject_too_long', text: `subject is ${e.subject.length} characters, over ${LIMITS.subject}` };
  if (e.type.length > LIMITS.type) return { reason: 'event_type_too_long', text: `event type is ${e.type.length} characters, over ${LIMITS.type}` };
  return undefined;
}

/**
 * Stores one delivery per (event, matching ACTIVE hub that may see it) in one transaction, at `generation` (0 for
 * the live consumer; `only`: a replay's hub). Who may see an event (domain/visibility.ts): the hubs of the
 * operator and of partners granted ALL every event; a partner's other hubs the catalog's and those about
 * accounts assigned to it at the event's time. An event about an account the hub has not placed yet is held for
 * those hubs (`held_event`) until it is. The assignments billingaccount events of the batch carry are recorded
 * first, and the events held for those accounts released. An event on a subject this hub's registry does not know
 * (its producer deployed first) goes to the matching hubs that see everything and is held for the other partner hubs
 * until a hub that knows the type decides (application/unknown-event-types.ts). Idempotent: the unique (hub, event, generation) makes
 * a message read twice add nothing. Returns how many deliveries are new.
 */
export async function recordEvents(deps: HubDeps, events: StreamEvent[], generation = 0, only?: string): Promise<number> {
  if (!events.length) return 0;
  const now = deps.clock.now();
  const setAside: { e: StreamEvent; reason: SetAsideReason; text: string; unplaceable: boolean }[] = [];
  let unplacedSetAside = 0;
  const unknown = events.filter((e) => !isEventSubject(e.subject));
  const inserted = await deps.knex.transaction(async (trx) => {
    const hubs = (await listActiveHubs(trx, undefined)).filter((h) => !only || h.id === only);
    const all = await partnersWithScopeAll(
      trx,
      hubs.flatMap((h) => (h.partnerId === null ? [] : [h.partnerId])),
    );
    const viewers = hubs.map((h) => viewerOf(h, all));
    const facts: EventFacts[] = events.map((e) => {
      const { data, time } = cloudEventParts(e);
      return factsOf(e.subject, data, time, now);
    });
    // Accounts placed by this batch (billingaccount events, live or replayed), and those a partner hub's decision reads.
    const placing = facts.flatMap((f) => (f.audience === 'ACCOUNT' && f.assigns ? [{ billingAccountId: f.billingAccountId, assignment: f.assigns }] : []));
    const reading = new Set<string>();
    facts.forEach((f, i) => {
      if (f.audience === 'ACCOUNT' && hubs.some((h, j) => !viewers[j]!.everything && queryMatches(h.filter, events[i]!))) reading.add(f.billingAccountId);
    });
    const placed = [...new Set(placing.map((p) => p.billingAccountId))];
    await lockAccounts(trx, reading, placed);
    await recordAssignments(trx, placing, now);
    const assignments = await assignmentsOf(trx, reading);
    const rows: NewDelivery[] = [];
    const held: Omit<HeldEvent, 'id'>[] = [];
    const heldUnknown: Omit<UnknownTypeEvent, 'id'>[] = [];
    events.forEach((e, i) => {
      const f = facts[i]!;
      const unplaceable = f.audience === 'OPERATOR' ? f.unplaceable : undefined;
      const problem = unstorable(e) ?? unplaceable;
      if (problem) setAside.push({ e, ...problem, unplaceable: problem === unplaceable });
      const known = isEventSubject(e.subject);
      let hold = false;
      let holdUnknown = false;
      hubs.forEach((hub, j) => {
        if (!(known ? queryMatches(hub.filter, e) : queryMatchesUnknownSubject(hub.filter, e))) return;
        // An unknown type's audience is unknown: staff and ALL-scope hubs only, until a hub that knows it decides.
        const decision = known ? decide(viewers[j]!, f, f.audience === 'ACCOUNT' ? (assignments.get(f.billingAccountId) ?? []) : []) : viewers[j]!.everything ? 'DELIVER' : 'HOLD_UNKNOWN';
        if (decision === 'HOLD') hold = true;
        if (decision === 'HOLD_UNKNOWN') holdUnknown = true;
        if (decision !== 'DELIVER') return;
        // A partner hub that sees only its own customers gets the event without staff's own text (domain/partner-payload.ts).
        const payload = payloadFor(viewers[j]!, e.subject, e.payload);
        rows.push(
          problem
            ? { subscriptionId: hub.id, eventId: fit(e.eventId, LIMITS.eventId), generation, subject: fit(e.subject, LIMITS.subject), eventType: fit(e.type, LIMITS.type), payload, deadReason: `not delivered: ${problem.text}` }
            : { subscriptionId: hub.id, eventId: e.eventId, generation, subject: e.subject, eventType: e.type, payload },
        );
      });
      // A set-aside event cannot be kept as it is: the partner hubs it may belong to do not get it (logged below).
      if ((hold || holdUnknown) && problem) unplacedSetAside++;
      else if (holdUnknown) heldUnknown.push({ eventId: e.eventId, generation, onlyHub: only ?? '', subject: e.subject, eventType: e.type, payload: e.payload, heldAt: now });
      else if (hold && f.audience === 'ACCOUNT')
        held.push({ eventId: e.eventId, generation, onlyHub: only ?? '', subject: e.subject, eventType: e.type, payload: e.payload, billingAccountId: f.billingAccountId, eventTime: f.at, heldAt: now, readAt: now });
    });
    let n = 0;
    // Bounded statements: a replay can bring thousands of events.
    for (let i = 0; i < rows.length; i += 500) n += await insertDeliveries(trx, rows.slice(i, i + 500), now);
    await insertHeldEvents(trx, held);
    await insertUnknownTypeEvents(trx, heldUnknown);
    if (placed.length) n += (await releaseHeldEvents(trx, deps, placed)).scheduled;
    return n;
  });
  for (const { e, reason, text, unplaceable } of setAside) {
    deps.metrics.eventSetAside(reason);
    const who = unplaceable ? "its account cannot be placed: dead-lettered for each matching hub of the operator's or a partner granted ALL, no OWN_CUSTOMERS partner hub gets it" : 'dead-lettered for each matching hub that may see it';
    deps.logger.error({ eventId: e.eventId.slice(0, 300), subject: e.subject.slice(0, 300), reason }, `event set aside by the hub (${who}): ${text}`);
  }
  if (unplacedSetAside) deps.logger.warn({ events: unplacedSetAside }, 'set-aside events about accounts not placed yet or of unknown types: not stored for partner hubs (they cannot be held as they are)');
  noteUnknownTypes(deps, unknown);
  deps.metrics.scheduled(inserted);
  if (inserted) deps.wake();
  return inserted;
}
