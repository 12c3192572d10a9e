import type { Knex } from '@ledgerline/platform';
import { queryMatches } from '../domain/query';
import { ownerAt, viewerOf, decide, factsOf, type Assignment } from '../domain/visibility';
import { payloadFor } from '../domain/partner-payload';
import { insertDeliveries, listActiveHubs, type NewDelivery } from '../persistence/store';
import { assignmentsOf, deleteHeldEvents, dropHeldEventsBefore, lockAccounts, lockHeldEvents, partnersWithScopeAll, recordAssignments } from '../persistence/visibility-store';
import type { HubDeps } from './deps';
import type { StreamEvent } from './record-events';

const HOUR_MS = 3_600_000;
/** Held events released per statement (a pass of the dispatcher's minute loop goes on while a statement comes back full). */
const RELEASE_BATCH = 1_000;

/** An event's CloudEvent `data` and `time`: as the consumer parsed them, else from its payload (null: not JSON). */
export function cloudEventParts(e: StreamEvent): { data: unknown; time: unknown } {
  if (e.data !== undefined || e.time !== undefined) return { data: e.data, time: e.time };
  try {
    const parsed = JSON.parse(e.payload) as { data?: unknown; time?: unknown };
    return { data: parsed?.data, time: parsed?.time };
  } catch {
    return { data: undefined, time: undefined };
  }
}

/** The assignments billingaccount events among `events` carry, by account. */
export function assignmentsIn(events: StreamEvent[], now: Date): { billingAccountId: string; assignment: Assignment }[] {
  const out: { billingAccountId: string; assignment: Assignment }[] = [];
  for (const e of events) {
    const { data, time } = cloudEventParts(e);
    const facts = factsOf(e.subject, data, time, now);
    if (facts.audience === 'ACCOUNT' && facts.assigns) out.push({ billingAccountId: facts.billingAccountId, assignment: facts.assigns });
  }
  return out;
}

/**
 * Delivers held events whose account the hub can now place (of `billingAccountIds`, or of any placed account), in
 * `trx`: to the hubs that may see them (the account's partner at the event's time, everything-seeing hubs already
 * had them: `on conflict do nothing`), ACTIVE and registered when the event was read (for a replay: its hub only).
 * Events whose account is still not placed at their time stay held. Returns how many were released and whether a
 * full batch was taken (more may wait).
 */
export async function releaseHeldEvents(trx: Knex, deps: Pick<HubDeps, 'clock'>, billingAccountIds: string[] | undefined): Promise<{ released: number; scheduled: number; more: boolean }> {
  const held = await lockHeldEvents(trx, billingAccountIds, RELEASE_BATCH);
  if (!held.length) return { released: 0, scheduled: 0, more: false };
  const now = deps.clock.now();
  const map = await assignmentsOf(
    trx,
    held.map((h) => h.billingAccountId),
  );
  const hubs = await listActiveHubs(trx, undefined);
  const all = await partnersWithScopeAll(
    trx,
    hubs.flatMap((h) => (h.partnerId === null ? [] : [h.partnerId])),
  );
  const rows: NewDelivery[] = [];
  const released: string[] = [];
  for (const h of held) {
    const assignments = map.get(h.billingAccountId) ?? [];
    if (!ownerAt(assignments, h.eventTime).known) continue;
    released.push(h.id);
    const facts = { audience: 'ACCOUNT' as const, billingAccountId: h.billingAccountId, at: h.eventTime };
    for (const hub of hubs) {
      if ((h.onlyHub && hub.id !== h.onlyHub) || hub.createdAt.getTime() > h.readAt.getTime()) continue;
      if (!queryMatches(hub.filter, { subject: h.subject, type: h.eventType })) continue;
      const viewer = viewerOf(hub, all);
      if (decide(viewer, facts, assignments) === 'DELIVER')
        rows.push({ subscriptionId: hub.id, eventId: h.eventId, generation: h.generation, subject: h.subject, eventType: h.eventType, payload: payloadFor(viewer, h.subject, h.payload) });
    }
  }
  let scheduled = 0;
  for (let i = 0; i < rows.length; i += 500) scheduled += await insertDeliveries(trx, rows.slice(i, i + 500), now);
  await deleteHeldEvents(trx, released);
  return { released: released.length, scheduled, more: held.length === RELEASE_BATCH };
}

/**
 * Consumer of billingaccount events (its own durable, from the stream's start: the accounts opened before this
 * version are placed too): records each assignment and, in the same transaction, releases the events held for
 * those accounts. Idempotent: an assignment read again adds nothing.
 */
export async function recordAccountPartners(deps: HubDeps, events: StreamEvent[]): Promise<number> {
  const now = deps.clock.now();
  const placing = assignmentsIn(events, now);
  if (!placing.length) return 0;
  const ids = [...new Set(placing.map((p) => p.billingAccountId))];
  const { scheduled } = await deps.knex.transaction(async (trx) => {
    await lockAccounts(trx, [], ids);
    await recordAssignments(trx, placing, now);
    return releaseHeldEvents(trx, deps, ids);
  });
  deps.metrics.scheduled(scheduled);
  if (scheduled) deps.wake();
  return scheduled;
}

/**
 * The minute pass over held events: releases those whose account was placed meanwhile (a placement the intake's
 * release did not cover), then drops those held longer than EVENTS_HUB_UNPLACED_HOLD_HOURS: their account never
 * placed (an account whose billingaccount.created left the stream), so no partner hub gets them (the operator's
 * and ALL hubs had them at once). Counted and logged without naming the account.
 */
export async function settleHeldEvents(deps: HubDeps, now: Date): Promise<{ released: number; dropped: number }> {
  let released = 0;
  for (let more = true, rounds = 0; more && rounds < 20; rounds++) {
    const r = await deps.knex.transaction((trx) => releaseHeldEvents(trx, deps, undefined));
    released += r.released;
    // A full batch of which nothing could be placed (accounts known only by a later change) would come back the same.
    more = r.more && r.released > 0;
    deps.metrics.scheduled(r.scheduled);
    if (r.scheduled) deps.wake();
  }
  const before = new Date(now.getTime() - deps.config.unplacedHoldHours * HOUR_MS);
  let dropped = 0;
  for (let n = RELEASE_BATCH, rounds = 0; n === RELEASE_BATCH && rounds < 20; rounds++) dropped += n = await dropHeldEventsBefore(deps.knex, before, RELEASE_BATCH);
  if (dropped) {
    deps.metrics.unplacedDropped(dropped);
    deps.logger.warn({ dropped, holdHours: deps.config.unplacedHoldHours }, 'held events dropped: their billing account was never placed (no billingaccount.created read); no partner hub got them');
  }
  if (released) deps.logger.info({ released }, 'held events released to the partners of their accounts');
  return { released, dropped };
}
