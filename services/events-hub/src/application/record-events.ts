import { createHash } from 'node:crypto';
import { queryMatches } from '../domain/query';
import type { SetAsideReason } from '../metrics';
import { insertDeliveries, listActiveHubs, type NewDelivery } from '../persistence/store';
import type { HubDeps } from './deps';

/** An event as read from the stream: its subject, CloudEvent id and type, and the exact JSON. */
export interface StreamEvent {
  subject: string;
  eventId: string;
  type: string;
  payload: string;
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
 * Why an event cannot be stored as it is (a NUL character in its id or type, which PostgreSQL text
 * refuses; the first field too long), or undefined. Such an event is not refused (its batch would
 * be redelivered for ever): each matching hub gets it DEAD at once, the fields escaped and cut to
 * fit, the whole CloudEvent kept as payload (JSON writes a NUL as an escape: the text holds it).
 */
function unstorable(e: StreamEvent): { reason: SetAsideReason; text: string } | undefined {
  if (e.eventId.includes('\u0000') || e.type.includes('\u0000')) return { reason: 'nul_character', text: 'event id or type holds a NUL character' };
  if (e.eventId.length > LIMITS.eventId) return { reason: 'event_id_too_long', text: `event id is ${e.eventId.length} characters, over ${LIMITS.eventId}` };
  if (e.subject.length > LIMITS.subject) return { reason: 'subject_too_long', text: `subject is ${e.subject.length} characters, over ${LIMITS.subject}` };
  if (e.type.length > LIMITS.type) return { reason: 'event_type_too_long', text: `event type is ${e.type.length} characters, over ${LIMITS.type}` };
  return undefined;
}

/**
 * Stores one delivery per (event, matching ACTIVE hub) in one transaction, at `generation` (0 for
 * the live consumer). Idempotent: the unique (hub, event, generation) makes a message read twice
 * add nothing. Returns how many deliveries are new.
 */
export async function recordEvents(deps: HubDeps, events: StreamEvent[], generation = 0, only?: string): Promise<number> {
  if (!events.length) return 0;
  const now = deps.clock.now();
  const setAside: { e: StreamEvent; reason: SetAsideReason; text: string }[] = [];
  const inserted = await deps.knex.transaction(async (trx) => {
    const hubs = (await listActiveHubs(trx, undefined)).filter((h) => !only || h.id === only);
    const rows: NewDelivery[] = [];
    for (const e of events) {
      const problem = unstorable(e);
      if (problem) setAside.push({ e, ...problem });
      for (const hub of hubs)
        if (queryMatches(hub.filter, e))
          rows.push(
            problem
              ? { subscriptionId: hub.id, eventId: fit(e.eventId, LIMITS.eventId), generation, subject: fit(e.subject, LIMITS.subject), eventType: fit(e.type, LIMITS.type), payload: e.payload, deadReason: `not delivered: ${problem.text}` }
              : { subscriptionId: hub.id, eventId: e.eventId, generation, subject: e.subject, eventType: e.type, payload: e.payload },
          );
    }
    let n = 0;
    // Bounded statements: a replay can bring thousands of events.
    for (let i = 0; i < rows.length; i += 500) n += await insertDeliveries(trx, rows.slice(i, i + 500), now);
    return n;
  });
  for (const { e, reason, text } of setAside) {
    deps.metrics.eventSetAside(reason);
    deps.logger.error({ eventId: e.eventId.slice(0, 300), subject: e.subject.slice(0, 300), reason }, `event set aside by the hub (dead-lettered for each matching hub): ${text}`);
  }
  deps.metrics.scheduled(inserted);
  if (inserted) deps.wake();
  return inserted;
}
