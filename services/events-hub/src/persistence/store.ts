import type { Knex } from '@ledgerline/platform';
import type { HubQuery } from '../domain/query';
import type { DeliveryStatus } from '../domain/delivery';
import type { PreviousSecret } from '../domain/secrets';

/** The hub's tables, in plain SQL (knex): two tables, row locks with SKIP LOCKED, no identity map needed. */

export interface HubRow {
  id: string;
  partnerId: string | null;
  callback: string;
  query: string;
  filter: HubQuery;
  /** As stored: encrypted (`v1:…:<keyId>`, domain/secrets.ts), or plain text in a row from before encryption. */
  secret: string;
  /** Secrets replaced by rotations, as stored, each with when it stops signing. */
  previousSecrets: PreviousSecret[];
  secretRotatedAt: Date | null;
  status: 'ACTIVE' | 'DELETED';
  replayGeneration: number;
  createdAt: Date;
}

export interface DeliveryRow {
  id: string;
  subscriptionId: string;
  eventId: string;
  generation: number;
  subject: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface NewDelivery {
  subscriptionId: string;
  eventId: string;
  generation: number;
  subject: string;
  eventType: string;
  payload: string;
  /** Set for an event that cannot be stored as it is: the row is DEAD at once, this its last_error. */
  deadReason?: string;
}

/** A delivery claimed by the dispatcher, with what it needs to send it (its hub's secrets are read at send time). */
export interface ClaimedDelivery {
  id: string;
  subscriptionId: string;
  /** Whose share of the dispatcher it takes: `p:<partnerId>` (all of a partner's hubs), or `h:<hubId>` for a hub without a partner. */
  owner: string;
  eventId: string;
  attempts: number;
  payload: string;
  callback: string;
  createdAt: Date;
}

/** What a claimed delivery is sent with, read just before the POST: its hub's callback and secrets as stored. */
export interface SendableDelivery {
  callback: string;
  secret: string;
  previousSecrets: PreviousSecret[];
}

const asDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

function previousSecretsFrom(v: unknown): PreviousSecret[] {
  const list = (typeof v === 'string' ? JSON.parse(v) : (v ?? [])) as { secret: string; expiresAt: string }[];
  return list.map((p) => ({ secret: p.secret, expiresAt: asDate(p.expiresAt) }));
}

const previousSecretsTo = (list: readonly PreviousSecret[]) =>
  list.length ? JSON.stringify(list.map((p) => ({ secret: p.secret, expiresAt: p.expiresAt.toISOString() }))) : null;

function hubFrom(r: any): HubRow {
  return {
    id: r.id,
    partnerId: r.partner_id,
    callback: r.callback,
    query: r.query,
    filter: typeof r.filter === 'string' ? JSON.parse(r.filter) : r.filter,
    secret: r.secret,
    previousSecrets: previousSecretsFrom(r.previous_secrets),
    secretRotatedAt: r.secret_rotated_at ? asDate(r.secret_rotated_at) : null,
    status: r.status,
    replayGeneration: Number(r.replay_generation),
    createdAt: asDate(r.created_at),
  };
}

function deliveryFrom(r: any): DeliveryRow {
  return {
    id: String(r.id),
    subscriptionId: r.subscription_id,
    eventId: r.event_id,
    generation: Number(r.generation),
    subject: r.subject,
    eventType: r.event_type,
    status: r.status,
    attempts: Number(r.attempts),
    nextAttemptAt: asDate(r.next_attempt_at),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error,
    createdAt: asDate(r.created_at),
    deliveredAt: r.delivered_at ? asDate(r.delivered_at) : null,
  };
}

export async function insertHub(knex: Knex, hub: HubRow): Promise<void> {
  await knex('hub').insert({
    id: hub.id,
    partner_id: hub.partnerId,
    callback: hub.callback,
    query: hub.query,
    filter: JSON.stringify(hub.filter),
    secret: hub.secret,
    previous_secrets: previousSecretsTo(hub.previousSecrets),
    secret_rotated_at: hub.secretRotatedAt,
    status: hub.status,
    replay_generation: hub.replayGeneration,
    created_at: hub.createdAt,
  });
}

/**
 * Inserts a hub unless its partner already has `max` ACTIVE hubs; returns null when inserted, else how many
 * active hubs the partner has. A hub without a partner (an ADMIN's own) is not counted. Registrations of one
 * partner are serialised (a transaction-scoped advisory lock on schema and partner), so two at once cannot
 * both take the last place.
 */
export async function insertHubWithinLimit(knex: Knex, hub: HubRow, max: number): Promise<number | null> {
  if (hub.partnerId === null) {
    await insertHub(knex, hub);
    return null;
  }
  const partnerId = hub.partnerId;
  return knex.transaction(async (trx): Promise<number | null> => {
    await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.hub.partner:' || ?))`, [partnerId]);
    const row = await trx('hub').where({ partner_id: partnerId, status: 'ACTIVE' }).count<{ n: string | number }[]>({ n: '*' }).first();
    const active = Number(row?.n ?? 0);
    if (active >= max) return active;
    await insertHub(trx, hub);
    return null;
  });
}

export async function findActiveHub(knex: Knex, id: string): Promise<HubRow | null> {
  const row = await knex('hub').where({ id, status: 'ACTIVE' }).first();
  return row ? hubFrom(row) : null;
}

/** Active hubs, of one partner or (null) of everyone, newest first. */
export async function listActiveHubs(knex: Knex, partnerId: string | null | undefined): Promise<HubRow[]> {
  const q = knex('hub')
    .where({ status: 'ACTIVE' })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  if (partnerId !== undefined) q.andWhere('partner_id', partnerId);
  return (await q).map(hubFrom);
}

/**
 * Unregisters a hub and, in the same transaction, CANCELS its PENDING deliveries (due, retrying or
 * leased by a dispatcher right now: the dispatcher checks again just before it sends). They finish
 * `now`, so retention ages them from there. Returns how many were cancelled (null: it was not active).
 */
export async function markHubDeleted(knex: Knex, id: string, now: Date): Promise<number | null> {
  return knex.transaction(async (trx): Promise<number | null> => {
    const updated = await trx('hub').where({ id, status: 'ACTIVE' }).update({ status: 'DELETED', deleted_at: now });
    if (updated !== 1) return null;
    return Number(await trx('webhook_delivery').where({ subscription_id: id, status: 'PENDING' }).update({ status: 'CANCELLED', next_attempt_at: now }));
  }) as Promise<number | null>;
}

/**
 * CANCELS up to `limit` PENDING deliveries of deleted hubs: stragglers an event's transaction that
 * began before a hub's delete committed can still insert (the delete cancelled what existed then).
 * They were never sent (a claim takes active hubs only) but stayed PENDING, out of retention's reach.
 */
export async function cancelDeliveriesOfDeletedHubs(knex: Knex, now: Date, limit: number): Promise<number> {
  const result = await knex.raw(
    `update webhook_delivery set status = 'CANCELLED', next_attempt_at = ? where id in (
       select d.id from webhook_delivery d join hub h on h.id = d.subscription_id
        where d.status = 'PENDING' and h.status = 'DELETED' limit ? for update of d skip locked)`,
    [now, limit],
  );
  return Number((result as { rowCount: number }).rowCount ?? 0);
}

/** An active hub, row-locked until the end of the transaction `trx` (a rotation against another). */
export async function lockActiveHub(trx: Knex, id: string): Promise<HubRow | null> {
  const row = await trx('hub').where({ id, status: 'ACTIVE' }).forUpdate().first();
  return row ? hubFrom(row) : null;
}

export async function updateHubSecrets(knex: Knex, id: string, secrets: { secret: string; previousSecrets: PreviousSecret[]; rotatedAt: Date }): Promise<void> {
  await knex('hub')
    .where({ id })
    .update({ secret: secrets.secret, previous_secrets: previousSecretsTo(secrets.previousSecrets), secret_rotated_at: secrets.rotatedAt });
}

/**
 * Up to `limit` hubs (any status) after `afterId` holding a value the re-seal pass rewrites (plain text, or
 * sealed without `:<currentKeyId>` at its end), row-locked in `trx` with SKIP LOCKED: another replica's pass
 * or a rotation holding a row leaves it to them (or to the next pass).
 */
export async function lockHubsToReseal(trx: Knex, currentKeyId: string, afterId: string, limit: number): Promise<HubRow[]> {
  const underCurrent = `v1:%:%:%:${currentKeyId}`;
  const rows = await trx('hub')
    .where('id', '>', afterId)
    .andWhere((q) =>
      q
        .whereNot('secret', 'like', underCurrent)
        .orWhereRaw(`exists (select 1 from jsonb_array_elements(coalesce(previous_secrets, '[]'::jsonb)) p where p->>'secret' not like ?)`, [underCurrent]),
    )
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  return rows.map(hubFrom);
}

/** Stores a hub's secrets re-sealed (same secrets, same windows): no rotation time changes. */
export async function storeResealedSecrets(trx: Knex, id: string, secret: string, previousSecrets: PreviousSecret[]): Promise<void> {
  await trx('hub')
    .where({ id })
    .update({ secret, previous_secrets: previousSecretsTo(previousSecrets) });
}

/** Active hubs' stored secrets, a page at a time (start-up checks the key opens them). */
export async function activeHubSecrets(knex: Knex, afterId: string, limit: number): Promise<HubRow[]> {
  return (await knex('hub').where({ status: 'ACTIVE' }).andWhere('id', '>', afterId).orderBy('id').limit(limit)).map(hubFrom);
}

/** Takes the next replay generation of a hub (row-locked, so two replays get two generations). */
export async function nextReplayGeneration(knex: Knex, id: string): Promise<number> {
  const [row] = await knex('hub').where({ id }).increment('replay_generation', 1).returning('replay_generation');
  return Number((row as { replay_generation: number }).replay_generation);
}

/** Inserts deliveries; one that exists (same hub, event and generation) is left as it is. Returns how many are new. */
export async function insertDeliveries(knex: Knex, rows: NewDelivery[], now: Date): Promise<number> {
  if (!rows.length) return 0;
  const inserted = await knex('webhook_delivery')
    .insert(
      rows.map((r) => ({
        subscription_id: r.subscriptionId,
        event_id: r.eventId,
        generation: r.generation,
        subject: r.subject,
        event_type: r.eventType,
        payload: r.payload,
        status: r.deadReason === undefined ? 'PENDING' : 'DEAD',
        last_error: r.deadReason ?? null,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .onConflict(['subscription_id', 'event_id', 'generation'])
    .ignore()
    .returning('id');
  return inserted.length;
}

/**
 * Claims up to `limit` due PENDING deliveries of active hubs: their rows are locked with SKIP LOCKED
 * (another dispatcher takes others) and their next attempt moved to `leaseUntil`, so a dispatcher
 * that dies mid-POST leaves them due again after the lease instead of lost.
 *
 * Fair by owner (`ownerOf`: a partner, all its hubs together; a hub registered without a partner on
 * its own): each owner's oldest due deliveries up to its share less what it has claimed already
 * (`perOwner.busy`), then the oldest overall. Per hub was not enough: a partner with two hubs on one
 * silent receiver took twice the share, i.e. every worker. The share is `perOwner.max`, and, while
 * several owners hold workers or have deliveries due, at most `(workers − 1) ÷ owners` (at least 1):
 * a fixed half let two partners that never answer hold every worker, so every other partner waited
 * for their timeouts; now owners that hold on to their workers together leave one free for the
 * others (until there are as many of them as workers).
 */
export async function claimDueDeliveries(knex: Knex, now: Date, limit: number, leaseUntil: Date, perOwner: { max: number; busy: ReadonlyMap<string, number>; workers?: number } = { max: limit, busy: new Map() }): Promise<ClaimedDelivery[]> {
  const busy = [...perOwner.busy];
  const workers = perOwner.workers ?? null;
  const result = await knex.raw(
    `with owners as (
       select o.partner_id, o.hub_id, o.owner, coalesce(f.busy, 0) as busy
         from (select distinct partner_id, case when partner_id is null then id end as hub_id,
                      coalesce('p:' || partner_id, 'h:' || id) as owner
                 from hub where status = 'ACTIVE') o
         left join unnest(?::text[], ?::int[]) as f(owner, busy) on f.owner = o.owner),
     wanting as (
       select count(*)::int as n from owners o
        where o.busy > 0 or exists (
          select 1 from hub h join webhook_delivery d on d.subscription_id = h.id
           where h.status = 'ACTIVE' and (h.partner_id = o.partner_id or h.id = o.hub_id)
             and d.status = 'PENDING' and d.next_attempt_at <= ?)),
     share as (
       select case when ?::int is null or n <= 1 then ?::int else least(?::int, greatest(1, (?::int - 1) / n)) end as per_owner
         from wanting),
     due as (
       select d.id, d.next_attempt_at from owners o cross join share s
         cross join lateral (
           select d.id, d.next_attempt_at from hub h join webhook_delivery d on d.subscription_id = h.id
            where h.status = 'ACTIVE' and (h.partner_id = o.partner_id or h.id = o.hub_id)
              and d.status = 'PENDING' and d.next_attempt_at <= ?
            order by d.next_attempt_at, d.id
            limit greatest(s.per_owner - o.busy, 0) for update of d skip locked) d
        order by d.next_attempt_at, d.id
        limit ?)
     update webhook_delivery w set next_attempt_at = ?
       from due, hub h
      where w.id = due.id and h.id = w.subscription_id
     returning w.id, w.subscription_id, w.event_id, w.attempts, w.payload, w.created_at, h.callback, coalesce('p:' || h.partner_id, 'h:' || h.id) as owner`,
    [
      busy.map(([owner]) => owner),
      busy.map(([, n]) => n),
      now,
      workers,
      perOwner.max,
      perOwner.max,
      workers,
      now,
      limit,
      leaseUntil,
    ],
  );
  return (result.rows as any[]).map((r) => ({
    id: String(r.id),
    subscriptionId: r.subscription_id,
    owner: r.owner,
    eventId: r.event_id,
    attempts: Number(r.attempts),
    payload: r.payload,
    callback: r.callback,
    createdAt: asDate(r.created_at),
  }));
}

/**
 * The send-time check: the claimed delivery is still PENDING as claimed and its hub still ACTIVE
 * (a DELETE cancels it, even while leased), with the hub's callback and secrets as they are now
 * (a rotation applies to deliveries claimed before it). Null: do not send.
 */
export async function sendableDelivery(knex: Knex, claimed: { id: string; attempts: number }): Promise<SendableDelivery | null> {
  const row = await knex('webhook_delivery as w')
    .join('hub as h', 'h.id', 'w.subscription_id')
    .where({ 'w.id': claimed.id, 'w.status': 'PENDING', 'w.attempts': claimed.attempts, 'h.status': 'ACTIVE' })
    .first('h.callback', 'h.secret', 'h.previous_secrets');
  return row ? { callback: row.callback, secret: row.secret, previousSecrets: previousSecretsFrom(row.previous_secrets) } : null;
}

/**
 * Records an attempt's outcome, only if the delivery is still as claimed (PENDING, same attempts):
 * a retry by an operator or another dispatcher after the lease wins over a late answer. A 2xx to a
 * POST already in flight when its hub was deleted (CANCELLED meanwhile) is recorded DELIVERED: it was.
 */
export async function recordAttempt(
  knex: Knex,
  claimed: { id: string; attempts: number },
  outcome: { status: DeliveryStatus; nextAttemptAt?: Date; statusCode: number | null; error: string | null; at: Date },
): Promise<boolean> {
  const updated = await knex('webhook_delivery')
    .where({ id: claimed.id, attempts: claimed.attempts })
    .whereIn('status', outcome.status === 'DELIVERED' ? ['PENDING', 'CANCELLED'] : ['PENDING'])
    .update({
      status: outcome.status,
      attempts: claimed.attempts + 1,
      last_status_code: outcome.statusCode,
      last_error: outcome.error?.slice(0, 1000) ?? null,
      // A finished delivery (DELIVERED, DEAD) keeps in next_attempt_at the time it finished: retention ages it by that,
      // on the (status, next_attempt_at) index (the API shows nextAttemptAt only for PENDING ones).
      next_attempt_at: outcome.nextAttemptAt ?? outcome.at,
      ...(outcome.status === 'DELIVERED' ? { delivered_at: outcome.at } : {}),
    });
  return updated === 1;
}

export async function listDeliveries(
  knex: Knex,
  subscriptionId: string,
  status: DeliveryStatus | undefined,
  limit: number,
  offset: number,
): Promise<{ total: number; rows: DeliveryRow[] }> {
  const base = () => {
    const q = knex('webhook_delivery').where({ subscription_id: subscriptionId });
    if (status) q.andWhere({ status });
    return q;
  };
  const [{ n }] = (await base().count({ n: '*' })) as { n: string | number }[];
  const rows = await base().orderBy('id', 'desc').limit(limit).offset(offset);
  return { total: Number(n), rows: rows.map(deliveryFrom) };
}

export async function findDelivery(knex: Knex, subscriptionId: string, id: string): Promise<DeliveryRow | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const row = await knex('webhook_delivery').where({ subscription_id: subscriptionId, id }).first();
  return row ? deliveryFrom(row) : null;
}

/** DEAD → PENDING with a fresh set of attempts, due now. False when it was not DEAD. */
export async function reviveDelivery(knex: Knex, subscriptionId: string, id: string, now: Date): Promise<boolean> {
  const updated = await knex('webhook_delivery')
    .where({ subscription_id: subscriptionId, id, status: 'DEAD' })
    .update({ status: 'PENDING', attempts: 0, next_attempt_at: now, last_error: null, last_status_code: null });
  return updated === 1;
}

/**
 * Deletes up to `limit` deliveries in `status` that finished before `before` (next_attempt_at: when they got
 * there), one statement on the (status, next_attempt_at) index; rows another replica is deleting are skipped.
 * A delivery whose event is still held for other hubs (`held_event`, `unknown_type_event`) is kept until the
 * release: its row is what tells the release that its hub had the event (an unknown type is held up to 720 h,
 * past the 168 h of delivered rows, and the operator's hubs got it a second time after the upgrade).
 * Returns how many it deleted.
 */
export async function deleteFinishedDeliveries(knex: Knex, status: 'DELIVERED' | 'DEAD' | 'CANCELLED', before: Date, limit: number): Promise<number> {
  const result = await knex.raw(
    `delete from webhook_delivery where id in (
       select d.id from webhook_delivery d
        where d.status = ? and d.next_attempt_at < ?
          and not exists (select 1 from held_event h where h.event_id = d.event_id and h.generation = d.generation)
          and not exists (select 1 from unknown_type_event u where u.event_id = d.event_id and u.generation = d.generation)
        limit ? for update of d skip locked)`,
    [status, before, limit],
  );
  return Number((result as { rowCount: number }).rowCount ?? 0);
}

export async function countDead(knex: Knex): Promise<number> {
  const [{ n }] = (await knex('webhook_delivery').where({ status: 'DEAD' }).count({ n: '*' })) as { n: string | number }[];
  return Number(n);
}
