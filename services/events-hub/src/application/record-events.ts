import { queryMatches } from '../domain/query';
import { insertDeliveries, listActiveHubs, type NewDelivery } from '../persistence/store';
import type { HubDeps } from './deps';

/** An event as read from the stream: its subject, CloudEvent id and type, and the exact JSON. */
export interface StreamEvent {
  subject: string;
  eventId: string;
  type: string;
  payload: string;
}

/**
 * Stores one delivery per (event, matching ACTIVE hub) in one transaction, at `generation` (0 for
 * the live consumer). Idempotent: the unique (hub, event, generation) makes a message read twice
 * add nothing. Returns how many deliveries are new.
 */
export async function recordEvents(deps: HubDeps, events: StreamEvent[], generation = 0, only?: string): Promise<number> {
  if (!events.length) return 0;
  const now = deps.clock.now();
  const inserted = await deps.knex.transaction(async (trx) => {
    const hubs = (await listActiveHubs(trx, undefined)).filter((h) => !only || h.id === only);
    const rows: NewDelivery[] = [];
    for (const e of events)
      for (const hub of hubs)
        if (queryMatches(hub.filter, e))
          rows.push({ subscriptionId: hub.id, eventId: e.eventId, generation, subject: e.subject, eventType: e.type, payload: e.payload });
    let n = 0;
    // Bounded statements: a replay can bring thousands of events.
    for (let i = 0; i < rows.length; i += 500) n += await insertDeliveries(trx, rows.slice(i, i + 500), now);
    return n;
  });
  deps.metrics.scheduled(inserted);
  if (inserted) deps.wake();
  return inserted;
}
