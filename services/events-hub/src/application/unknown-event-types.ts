import type { Knex } from '@ledgerline/platform';
import { eventSubjects, queryMatches } from '../domain/query';
import { decide, factsOf, viewerOf, type Unplaceable } from '../domain/visibility';
import { payloadFor } from '../domain/partner-payload';
import { insertDeliveries, listActiveHubs, type NewDelivery } from '../persistence/store';
import { assignmentsOf, insertHeldEvents, lockAccounts, partnersWithScopeAll, type HeldEvent } from '../persistence/visibility-store';
import { deleteUnknownTypeEvents, dropUnknownTypeEventsBefore, lockUnknownTypeEventsOf } from '../persistence/unknown-type-store';
import { cloudEventParts } from './account-partners';
import type { HubDeps } from './deps';
import type { StreamEvent } from './record-events';

/**
 * Events on subjects the hub's registry does not know yet: a producer deployed before the hub (the normal order for
 * an additive contracts change). The intake (record-events.ts) gives them at once to the hubs that see everything
 * (the operator's, partners granted ALL) whose query matches, and holds them in `unknown_type_event` for the other
 * partner hubs: who may see an unknown type is unknown (an account's event, the operator's, the catalog's), and a
 * partner must never get another partner's customers' events, so OWN_CUSTOMERS partners wait until a hub that knows
 * the type decides. Here: that decision, at start-up and in the dispatcher's minute pass.
 */

const HOUR_MS = 3_600_000;
/** A held event whose data PostgreSQL cannot hold (domain/visibility.ts `Unplaceable`). */
type SetAsideEvent = Unplaceable & { eventId: string; subject: string };
const RELEASE_BATCH = 1_000;
/** Subjects already warned about by this process (bounded: a producer of random subjects must not grow it for ever). */
const warned = new Set<string>();
const WARNED_MAX = 1_000;

/** Counts each unknown-subject event read and logs each subject once per process. */
export function noteUnknownTypes(deps: Pick<HubDeps, 'logger' | 'metrics'>, events: StreamEvent[]): void {
  for (const e of events) {
    deps.metrics.unknownEventType();
    if (warned.has(e.subject) || warned.size >= WARNED_MAX) continue;
    warned.add(e.subject);
    deps.logger.warn(
      { subject: e.subject.slice(0, 300), eventType: e.type.slice(0, 300) },
      "event subject not in the hub's event registry (its producer is newer than this hub): delivered to the operator's and ALL-scope hubs, held for OWN_CUSTOMERS partners until the hub is upgraded",
    );
  }
}

/**
 * Decides held events of subjects this hub knows now, oldest first, in `trx`, for the hubs registered when they were
 * held (a replay's: its hub only) as the intake would have: delivered, held for their account (not placed yet), or
 * not for that hub. Hubs that see everything had them already (`on conflict do nothing`).
 */
export async function releaseUnknownTypeEvents(trx: Knex, deps: Pick<HubDeps, 'clock'>): Promise<{ released: number; scheduled: number; more: boolean; setAside: SetAsideEvent[] }> {
  const held = await lockUnknownTypeEventsOf(trx, eventSubjects(), RELEASE_BATCH);
  if (!held.length) return { released: 0, scheduled: 0, more: false, setAside: [] };
  const now = deps.clock.now();
  const hubs = await listActiveHubs(trx, undefined);
  const all = await partnersWithScopeAll(
    trx,
    hubs.flatMap((h) => (h.partnerId === null ? [] : [h.partnerId])),
  );
  const facts = held.map((h) => {
    const { data, time } = cloudEventParts({ subject: h.subject, eventId: h.eventId, type: h.eventType, payload: h.payload });
    return factsOf(h.subject, data, time, now);
  });
  const accounts = new Set(facts.flatMap((f) => (f.audience === 'ACCOUNT' ? [f.billingAccountId] : [])));
  // Shared, as the intake: a placement committing meanwhile either is seen here or releases what this holds.
  await lockAccounts(trx, accounts, []);
  const assignments = await assignmentsOf(trx, accounts);
  const rows: NewDelivery[] = [];
  const forAccounts: Omit<HeldEvent, 'id'>[] = [];
  const setAside: SetAsideEvent[] = [];
  held.forEach((h, i) => {
    const f = facts[i]!;
    let hold = false;
    for (const hub of hubs) {
      if ((h.onlyHub && hub.id !== h.onlyHub) || hub.createdAt.getTime() > h.heldAt.getTime()) continue;
      if (!queryMatches(hub.filter, { subject: h.subject, type: h.eventType })) continue;
      const viewer = viewerOf(hub, all);
      const decision = decide(viewer, f, f.audience === 'ACCOUNT' ? (assignments.get(f.billingAccountId) ?? []) : []);
      if (decision === 'HOLD') hold = true;
      if (decision === 'DELIVER') rows.push({ subscriptionId: hub.id, eventId: h.eventId, generation: h.generation, subject: h.subject, eventType: h.eventType, payload: payloadFor(viewer, h.subject, h.payload) });
    }
    if (f.audience === 'OPERATOR' && f.unplaceable) setAside.push({ eventId: h.eventId, subject: h.subject, ...f.unplaceable });
    // Its wait for the account starts now (EVENTS_HUB_UNPLACED_HOLD_HOURS), not when it was read: an upgrade days
    // after the producer's would have the next minute pass drop it. Its hubs stay those of its read.
    if (hold && f.audience === 'ACCOUNT')
      forAccounts.push({ eventId: h.eventId, generation: h.generation, onlyHub: h.onlyHub, subject: h.subject, eventType: h.eventType, payload: h.payload, billingAccountId: f.billingAccountId, eventTime: f.at, heldAt: now, readAt: h.heldAt });
  });
  let scheduled = 0;
  for (let i = 0; i < rows.length; i += 500) scheduled += await insertDeliveries(trx, rows.slice(i, i + 500), now);
  await insertHeldEvents(trx, forAccounts);
  await deleteUnknownTypeEvents(
    trx,
    held.map((h) => h.id),
  );
  return { released: held.length, scheduled, more: held.length === RELEASE_BATCH, setAside };
}

/**
 * Releases what this hub now knows (after its upgrade), then drops for partner hubs what stayed unknown over
 * EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS (counted and logged). At start-up and in the dispatcher's minute pass.
 */
export async function settleUnknownTypeEvents(deps: HubDeps, now: Date): Promise<{ released: number; dropped: number }> {
  let released = 0;
  for (let more = true, rounds = 0; more && rounds < 20; rounds++) {
    const r = await deps.knex.transaction((trx) => releaseUnknownTypeEvents(trx, deps));
    released += r.released;
    more = r.more;
    deps.metrics.scheduled(r.scheduled);
    if (r.scheduled) deps.wake();
    // The operator's and ALL hubs had it when it was read; OWN_CUSTOMERS partners cannot, as the intake sets it aside.
    for (const e of r.setAside) {
      deps.metrics.eventSetAside(e.reason);
      deps.logger.error(
        { eventId: e.eventId, subject: e.subject, reason: e.reason },
        `event of a type this hub now knows set aside (its account cannot be placed: no OWN_CUSTOMERS partner hub gets it): ${e.text}`,
      );
    }
  }
  const before = new Date(now.getTime() - deps.config.unknownTypeHoldHours * HOUR_MS);
  let dropped = 0;
  for (let n = RELEASE_BATCH, rounds = 0; n === RELEASE_BATCH && rounds < 20; rounds++) dropped += n = await dropUnknownTypeEventsBefore(deps.knex, before, RELEASE_BATCH);
  if (dropped) {
    deps.metrics.unknownTypeDropped(dropped);
    deps.logger.warn({ dropped, holdHours: deps.config.unknownTypeHoldHours }, 'events of a type this hub still does not know dropped for OWN_CUSTOMERS partner hubs (upgrade the hub; a replay after it delivers them)');
  }
  if (released) deps.logger.info({ released }, 'events of types this hub now knows released to partner hubs');
  return { released, dropped };
}
