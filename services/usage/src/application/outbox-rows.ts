/**
 * Outbox rows written with raw SQL in the pipeline's transaction. The platform relay publishes
 * any row (subject, payload) with `Nats-Msg-Id` = id; `on conflict do nothing` on the id makes
 * a repeated write a no-op while the row is kept. Rows marked `once` (thresholds, notifications,
 * offers: once per line, period and what they are about) are also remembered for good in
 * `emitted_event`, because the relay deletes published rows after OUTBOX_RETENTION_HOURS.
 */
import { arrayParam, checkOutboxPayloads, EVENT_ID_CLASHES_SQL, refuseEventIdCollisions } from '@ledgerline/platform';
import { createCloudEvent, deterministicId, EVENTS, WORK_SUBJECTS, type ChargeRequest, type EventName } from '@ledgerline/contracts';
import { insertJsonRows, type SqlClient } from '../persistence/sql';

export const USAGE_SOURCE = 'ledgerline/usage';

export interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  createdAt: Date;
  /** Emitted at most once ever: dropped when its id is in emitted_event (see insertOutbox). */
  once?: boolean;
}

/** A ChargeRequest is a plain message (not a CloudEvent, see contracts/messages.ts), keyed by chargeId. */
export function chargeRequestRow(request: ChargeRequest, now: Date): OutboxRow {
  return { id: request.chargeId, subject: WORK_SUBJECTS.chargeRequested, payload: JSON.stringify(request), createdAt: now };
}

export function eventRow<T>(name: EventName, subject: string, key: string[], data: T, now: Date): OutboxRow {
  const event = createCloudEvent({ source: USAGE_SOURCE, type: EVENTS[name].type, subject, time: now, data, key });
  return { id: event.id, subject: EVENTS[name].subject, payload: JSON.stringify(event), createdAt: now };
}

/** The id eventRow gives the event `name` with `key` (createCloudEvent's deterministic id). */
export function eventIdOf(name: EventName, key: string[]): string {
  return deterministicId('event', USAGE_SOURCE, EVENTS[name].type, ...key);
}

/** How many ids insertOutbox keeps in a caller's `emitted` set before starting it afresh. */
const EMITTED_KEPT = 200_000;

/**
 * Writes outbox rows (the first of each id: the batch's first event that asks for a notice is the
 * one it names). Rows marked `once` whose id is already in emitted_event are dropped, the others
 * are remembered there, in one statement with the outbox insert. `emitted` (optional, the caller's
 * memory of ids known to be emitted, so later batches skip them without asking the database)
 * learns the ids found already emitted; ids written now are learnt at their next repeat, once
 * committed.
 */
export async function insertOutbox(db: SqlClient, rows: OutboxRow[], emitted?: Set<string>): Promise<number> {
  if (rows.length === 0) return 0;
  // A row too large to publish: EVENT_TOO_LARGE before anything is written.
  checkOutboxPayloads(rows);
  refuseEventIdCollisions(rows);
  const byId = new Map<string, OutboxRow>();
  for (const r of rows) if (!byId.has(r.id)) byId.set(r.id, r);
  const unique = [...byId.values()];
  const json = unique.map((r) => ({ id: r.id, subject: r.subject, payload: r.payload, created_at: r.createdAt, attempts: 0 }));
  // In id order: two batches writing at once (batch k+1 is written beside batch k) that ask for some of the same
  // notices wait for each other's rows; taken in one order they cannot deadlock (the victim's batch is rated
  // again on counters holding the other's records, see Bucket.fromRecords).
  const once = unique.filter((r) => r.once).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (once.length === 0) {
    const inserted = await insertJsonRows<{ id: string }>(db, 'outbox', ['id', 'subject', 'payload', 'created_at', 'attempts'], json, 'on conflict (id) do nothing returning id');
    await refuseCollisionsOfKept(db, unique, inserted);
    return inserted.length;
  }
  const { rows: inserted } = await db.query<{ id: string }>(
    `with fresh as (
       insert into emitted_event (id, created_at) select * from unnest($2::text[], $3::timestamptz[]) on conflict (id) do nothing returning id
     )
     insert into outbox (id, subject, payload, created_at, attempts)
     select r.id, r.subject, r.payload, r.created_at, r.attempts from json_populate_recordset(null::outbox, $1) r
     where not (r.id = any($2::text[])) or r.id in (select id from fresh)
     on conflict (id) do nothing returning id`,
    [JSON.stringify(json), arrayParam(once.map((r) => r.id)), arrayParam(once.map((r) => r.createdAt))],
  );
  await refuseCollisionsOfKept(db, unique, inserted);
  if (emitted) {
    const written = new Set(inserted.map((r) => r.id));
    if (emitted.size > EMITTED_KEPT) emitted.clear();
    for (const r of once) if (!written.has(r.id)) emitted.add(r.id);
  }
  return inserted.length;
}

/**
 * The rows the insert kept out (an id already queued) are replays of the same event, unless
 * another event holds the id (refuseEventIdCollisions): asked only when there are any, so the
 * ordinary batch pays nothing.
 */
async function refuseCollisionsOfKept(db: SqlClient, rows: readonly OutboxRow[], inserted: readonly { id: string }[]): Promise<void> {
  if (inserted.length === rows.length) return;
  const written = new Set(inserted.map((r) => r.id));
  const kept = rows.filter((r) => !written.has(r.id));
  const { rows: clashes } = await db.query<{ id: string; subject: string }>(EVENT_ID_CLASHES_SQL, [arrayParam(kept.map((r) => r.id)), arrayParam(kept.map((r) => r.subject))]);
  refuseEventIdCollisions(kept, clashes);
}
