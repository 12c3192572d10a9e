import { createCloudEvent, DomainError, EVENTS, type EventName } from '@ledgerline/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import client from 'prom-client';
import { dialectOf, type Em, type Orm } from './database';
import { OutboxMessage } from './outbox-entity';

export interface OutboxEventInput<T> {
  /** Who emits it, e.g. `ledgerline/invoicing`. */
  source: string;
  /** The entity the event is about (CloudEvents `subject`). */
  subject: string;
  /** Parts that identify the state change; the same parts always give the same event id. */
  key: string[];
  time: Date;
  data: T;
}

/**
 * The largest payload (UTF-8 bytes) an outbox row may carry: NATS' max_payload (1 MiB, the
 * server default, which deploy/ keeps) less 4 KiB for the headers JetStream publishes with it
 * (`Nats-Msg-Id`). A larger event could never be published.
 */
export const MAX_OUTBOX_PAYLOAD_BYTES = 1024 * 1024 - 4096;

/**
 * Refuses (DomainError EVENT_TOO_LARGE) an outbox row NATS would refuse for its size; every path
 * that writes outbox rows calls it before writing, so the caller's transaction fails whole.
 */
export function checkOutboxPayload(subject: string, payload: string): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: the usual small event is never measured.
  if (payload.length * 3 <= MAX_OUTBOX_PAYLOAD_BYTES) return;
  const bytes = Buffer.byteLength(payload);
  if (bytes <= MAX_OUTBOX_PAYLOAD_BYTES) return;
  throw new DomainError(
    'EVENT_TOO_LARGE',
    `the ${subject} event would be ${bytes} bytes, over the ${MAX_OUTBOX_PAYLOAD_BYTES} bytes one message may carry (NATS max_payload); nothing was written`,
    { subject, bytes, limit: MAX_OUTBOX_PAYLOAD_BYTES },
  );
}

/** checkOutboxPayload for each row of a bulk write. */
export function checkOutboxPayloads(rows: readonly { subject: string; payload: string }[]): void {
  for (const r of rows) checkOutboxPayload(r.subject, r.payload);
}

/**
 * Events of one CloudEvents type whose keys agree get one id (`createCloudEvent`), and the outbox
 * keeps the first row of an id: that is what makes a replayed write a no-op. Two *different*
 * events of a shared type (each has its own NATS subject, see `EVENTS`) given the same key would
 * lose the second without a trace (a payout's return once vanished behind the payout). The raw
 * SQL writes check for it: rows of one id on two subjects, within the write or against a row
 * already queued (`EVENT_ID_CLASHES_SQL`), throw EVENT_ID_COLLISION and the caller's transaction
 * fails whole. A published row pruned after its retention is no longer seen.
 */
export function refuseEventIdCollisions(rows: readonly { id: string; subject: string }[], queued: readonly { id: string; subject: string }[] = []): void {
  const subjectOf = new Map(queued.map((q) => [q.id, q.subject]));
  for (const r of rows) {
    const taken = subjectOf.get(r.id);
    if (taken !== undefined && taken !== r.subject) {
      throw new DomainError(
        'EVENT_ID_COLLISION',
        `the ${r.subject} event would get id ${r.id}, which a ${taken} event already has (same CloudEvents type and key): give it a key of its own; nothing was written`,
        { id: r.id, subject: r.subject, takenBy: taken },
        'INTERNAL',
      );
    }
    if (taken === undefined) subjectOf.set(r.id, r.subject);
  }
}

/**
 * The outbox rows already queued under one of the ids `$1` (text[]) with another subject than
 * `$2` (text[], the same order): for refuseEventIdCollisions.
 */
export const EVENT_ID_CLASHES_SQL = `select o.id, o.subject from outbox o join unnest($1::text[], $2::text[]) as r(id, subject) on o.id = r.id and o.subject <> r.subject`;

/**
 * Queues an event in the caller's transaction. If the transaction rolls back, the event never
 * existed; if it commits, the relay will publish it at least once. An event too large to publish
 * throws EVENT_TOO_LARGE here, before anything is written.
 */
export function enqueueEvent<T>(em: Em, name: EventName, input: OutboxEventInput<T>): string {
  const def = EVENTS[name];
  const event = createCloudEvent({ source: input.source, type: def.type, subject: input.subject, time: input.time, data: input.data, key: input.key });
  const payload = JSON.stringify(event);
  checkOutboxPayload(def.subject, payload);
  em.create(OutboxMessage, { id: event.id, subject: def.subject, payload, createdAt: input.time, attempts: 0 });
  return event.id;
}

export interface RelayOptions {
  batchSize?: number;
  idleDelayMs?: number;
  logger: Logger;
  /**
   * How long a published row is kept (ms), to look at and to replay by hand; then the relay deletes
   * it. Default OUTBOX_RETENTION_HOURS (72 h); 0 keeps every row.
   */
  retentionMs?: number;
  /** How often, at most, published rows past their retention are deleted (ms; default 60 s). */
  pruneEveryMs?: number;
}

/**
 * `read`, shared by the calls made while one is running: two gauges filled from one query at a
 * scrape (prom-client collects them side by side) run it once.
 */
export function onceAtATime<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= read().finally(() => (running = undefined)));
}

/** Rows deleted per statement when pruning: a short transaction, whatever the backlog. */
const PRUNE_BATCH = 5000;

/**
 * First key of the transaction advisory lock a relay pass takes on PostgreSQL; the second is the
 * oid of the service's `outbox` table (`'outbox'::regclass`, through the service's search_path),
 * so each service's outbox has its own lock even with every service in one database.
 */
export const OUTBOX_RELAY_LOCK_KEY = 0x4f55_5442; // 'OUTB'

/** The lock statement (answers `locked`): one relay at a time per outbox. */
export const OUTBOX_RELAY_LOCK_SQL = `select pg_try_advisory_xact_lock(${OUTBOX_RELAY_LOCK_KEY}, 'outbox'::regclass::oid::int) as locked`;

/** How much of a publish error an outbox row keeps in `last_error`. */
const LAST_ERROR_CHARS = 1000;

/**
 * True when NATS refuses this one message for what it is, so that sending it again can never
 * succeed: larger than the server's max_payload (refused by the client before sending) or the
 * stream's max_msg_size (JetStream API error 10054), or an invalid subject. Anything else (NATS
 * down or reconnecting, a timeout, no stream answering, the stream full) is transient: the row
 * waits and is sent again.
 */
export function refusedForGood(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'InvalidSubjectError') return true;
  if (error.name === 'InvalidArgumentError' && /max_payload|subject/i.test(error.message)) return true;
  return error.name === 'JetStreamApiError' && (error as Error & { code?: number }).code === 10054;
}

const errorText = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, LAST_ERROR_CHARS);

/** What one relay pass did. */
interface BatchOutcome {
  /** Rows the pass claimed (0: none waits, or another relay holds this outbox). */
  claimed: number;
  published: number;
  /** A transient publish failure that stopped the pass: the rows from it on wait for the next one. */
  stalled?: unknown;
}

/**
 * Publishes outbox rows to JetStream in order and marks them published. On PostgreSQL a pass
 * first takes a transaction advisory lock on the outbox (OUTBOX_RELAY_LOCK_SQL): of several
 * replicas, one relays at a time and the others find it taken and try again at their next pass,
 * so a later row is never published by one replica while another still holds an earlier one. The
 * rows are then claimed `FOR UPDATE NOWAIT`: a row locked by anything else (a relay of an older
 * release during a rolling update, an operator's statement) ends the pass without publishing
 * rather than skipping past it. A crash between publish and mark re-publishes, and JetStream drops
 * the duplicate by `Nats-Msg-Id` (within the stream's duplicate window, 2 min).
 *
 * The batch's publishes are pipelined on the one connection across entities, but chained per
 * entity (the CloudEvents `subject`): an event is sent only after the entity's previous one in the
 * batch was acknowledged, so a transient failure can never let a later event of that entity land
 * on the stream before it; the acknowledgements are then read in order: the rows before the first failure are
 * marked published in one statement and the pass stops there. A transient failure (NATS down, a
 * timeout) leaves that row and the ones after it pending, to be sent again (later events of other
 * entities that did land are dropped as duplicates within the window; those of the same entity
 * were never sent); a row NATS refuses for good (`refusedForGood`: too large,
 * invalid) is set aside (`failed_at`, `last_error`; counted in `ledgerline_outbox_failed_total`
 * and logged) and the rows after it go on. Set-aside rows stay in the table, never pruned, until
 * an operator deals with them (docs/operations.md).
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> = Promise.resolve();
  private readonly batchSize: number;
  private readonly idleDelayMs: number;
  private readonly retentionMs: number;
  private readonly pruneEveryMs: number;
  private lastPrune = 0;
  private readonly published = new client.Counter({ name: 'ledgerline_outbox_published_total', help: 'Outbox events published to JetStream (a row published again after a crash counts again)', registers: [] });
  private readonly pruned = new client.Counter({ name: 'ledgerline_outbox_pruned_total', help: 'Published outbox rows deleted after their retention', registers: [] });
  private readonly failed = new client.Counter({ name: 'ledgerline_outbox_failed_total', help: 'Outbox events NATS refused for good (too large, invalid), set aside unpublished', registers: [] });

  constructor(
    private readonly orm: Orm,
    private readonly js: JetStreamClient,
    private readonly options: RelayOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.idleDelayMs = options.idleDelayMs ?? 100;
    this.retentionMs = options.retentionMs ?? Number(process.env.OUTBOX_RETENTION_HOURS ?? 72) * 3_600_000;
    this.pruneEveryMs = options.pruneEveryMs ?? 60_000;
  }

  /**
   * Puts the relay's metrics on a service's registry: events published and pruned, and, read at
   * each scrape, how many events wait to be published and how long the oldest has waited by the
   * service's clock `now` (an outbox that does not drain means partners and other services stop
   * hearing from this one), and how many events are set aside (refused by NATS for good).
   */
  registerMetrics(registry: client.Registry, now: () => Date = () => new Date()): void {
    registry.registerMetric(this.published);
    registry.registerMetric(this.pruned);
    registry.registerMetric(this.failed);
    const waiting = onceAtATime(async () => {
      const knex = (this.orm.em.fork() as Em).getKnex();
      const [row] = await knex('outbox')
        .whereNull('published_at')
        .select(
          knex.raw('sum(case when failed_at is null then 1 else 0 end) as n'),
          knex.raw('min(case when failed_at is null then created_at end) as oldest'),
          knex.raw('sum(case when failed_at is null then 0 else 1 end) as failed'),
        );
      return { n: Number(row?.n ?? 0), oldest: row?.oldest == null ? null : new Date(row.oldest), failed: Number(row?.failed ?? 0) };
    });
    new client.Gauge({ name: 'ledgerline_outbox_pending_events', help: 'Outbox events not published yet', registers: [registry], async collect() {
      this.set((await waiting()).n);
    } });
    new client.Gauge({ name: 'ledgerline_outbox_oldest_pending_seconds', help: 'Age of the oldest outbox event not published yet (0 when none waits)', registers: [registry], async collect() {
      const { oldest } = await waiting();
      // Rows are stamped with the service's clock: their age is read on the same clock.
      this.set(oldest ? Math.max(0, (now().getTime() - oldest.getTime()) / 1000) : 0);
    } });
    new client.Gauge({ name: 'ledgerline_outbox_failed_events', help: 'Outbox events set aside unpublished (NATS refused them for good; see docs/operations.md)', registers: [registry], async collect() {
      this.set((await waiting()).failed);
    } });
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  /** Ask for a relay pass now, e.g. right after a commit, instead of waiting for the next poll. */
  nudge(): void {
    if (this.running) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  /**
   * Publishes everything pending; returns how many rows were published (0 at once when another
   * relay holds this outbox). Throws a transient publish failure, after marking what went out
   * before it. Used by tests too.
   */
  async drain(): Promise<number> {
    // In turn with the relay's own passes: a pass in flight holds the outbox, this one would find
    // it taken and the caller would find the rows unpublished when drain returned.
    const run = this.busy.then(async () => {
      let total = 0;
      for (;;) {
        const outcome = await this.publishBatch();
        total += outcome.published;
        if (outcome.stalled !== undefined) throw outcome.stalled;
        if (outcome.claimed < this.batchSize) return total;
      }
    });
    this.busy = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.busy = this.busy.then(() => this.pass());
    }, delay);
  }

  private async pass(): Promise<void> {
    if (!this.running) return;
    let more = false;
    try {
      const outcome = await this.publishBatch();
      if (outcome.stalled !== undefined) this.options.logger.warn({ err: outcome.stalled, published: outcome.published }, 'outbox relay could not publish an event; it and the events after it wait for the next pass');
      more = outcome.stalled === undefined && outcome.claimed >= this.batchSize;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox relay pass failed; will retry');
    }
    if (!more && this.retentionMs > 0 && Date.now() - this.lastPrune >= this.pruneEveryMs) {
      this.lastPrune = Date.now();
      try {
        await this.prune(new Date(Date.now() - this.retentionMs));
      } catch (error) {
        this.options.logger.warn({ err: error }, 'pruning published outbox rows failed; will retry');
      }
    }
    if (this.running) this.schedule(more ? 0 : this.idleDelayMs);
  }

  /**
   * Deletes rows published before `cutoff` (wall-clock time of their publish, not the event's
   * time), PRUNE_BATCH at a time; returns how many. Unpublished rows are never touched.
   */
  async prune(cutoff: Date): Promise<number> {
    const knex = (this.orm.em.fork() as Em).getKnex();
    let total = 0;
    for (;;) {
      const n = Number(await knex('outbox').whereIn('seq', knex('outbox').select('seq').whereNotNull('published_at').where('published_at', '<', cutoff).orderBy('published_at').limit(PRUNE_BATCH)).delete());
      total += n;
      this.pruned.inc(n);
      if (n < PRUNE_BATCH) return total;
    }
  }

  private async publishBatch(): Promise<BatchOutcome> {
    const em = this.orm.em.fork();
    const postgres = dialectOf(this.orm) === 'postgresql';
    try {
      return await em.transactional(async (tx) => {
        const t = tx as Em;
        const knex = t.getKnex();
        if (postgres) {
          // One relay per outbox at a time; the lock goes with this transaction.
          const [lock] = await t.execute<{ locked: boolean }[]>(OUTBOX_RELAY_LOCK_SQL);
          if (!lock?.locked) return { claimed: 0, published: 0 };
        }
        let query = knex('outbox').select('seq', 'id', 'subject', 'payload').whereNull('published_at').whereNull('failed_at').orderBy('seq').limit(this.batchSize);
        if (postgres) query = query.forUpdate().noWait();
        // `em.execute` runs inside this transaction; `getConnection().execute` would take a second
        // connection (no row lock on PostgreSQL, a deadlock on SQLite's single connection).
        const rows: { seq: number; id: string; subject: string; payload: string }[] = await t.execute(query);
        if (rows.length === 0) return { claimed: 0, published: 0 };
        // Pipelined across entities; each entity's events are chained: one is sent only once the
        // one before it of the same entity is acknowledged (or set aside for good), so a transient
        // failure never lets a later event of that entity land first (it is not sent; the pass
        // stops at the first failure and both wait for the next pass, in order).
        const lastOfEntity = new Map<string, Promise<unknown>>();
        const acks = await Promise.allSettled(
          rows.map((row) => {
            const entity = entityOf(row);
            const before = entity === undefined ? undefined : lastOfEntity.get(entity);
            const publish = (): Promise<unknown> => this.js.publish(row.subject, row.payload, { msgID: row.id });
            const sent = before === undefined ? publish() : before.then(publish, (error: unknown) => (refusedForGood(error) ? publish() : Promise.reject(new NotSentError(error))));
            if (entity !== undefined) lastOfEntity.set(entity, sent);
            return sent;
          }),
        );
        const published: number[] = [];
        const setAside: { row: (typeof rows)[number]; error: unknown }[] = [];
        let stalled: { row: (typeof rows)[number]; error: unknown } | undefined;
        for (let i = 0; i < rows.length; i++) {
          const ack = acks[i]!;
          if (ack.status === 'fulfilled') published.push(rows[i]!.seq);
          else if (refusedForGood(ack.reason)) setAside.push({ row: rows[i]!, error: ack.reason });
          else {
            stalled = { row: rows[i]!, error: ack.reason };
            break;
          }
        }
        const now = new Date();
        if (published.length > 0) await t.execute(knex('outbox').whereIn('seq', published).update({ published_at: now, attempts: knex.raw('attempts + 1') }));
        this.published.inc(published.length);
        // Rare paths, one statement per row.
        for (const { row, error } of setAside) {
          await t.execute(knex('outbox').where('seq', row.seq).update({ failed_at: now, last_error: errorText(error), attempts: knex.raw('attempts + 1') }));
          this.failed.inc();
          this.options.logger.warn(
            { err: error, outboxSeq: row.seq, eventId: row.id, subject: row.subject, bytes: Buffer.byteLength(row.payload) },
            'NATS refused an outbox event for good; set aside unpublished (outbox.failed_at), the events after it go on',
          );
        }
        if (stalled) await t.execute(knex('outbox').where('seq', stalled.row.seq).update({ last_error: errorText(stalled.error), attempts: knex.raw('attempts + 1') }));
        return { claimed: rows.length, published: published.length, ...(stalled ? { stalled: stalled.error } : {}) };
      });
    } catch (error) {
      if (lockNotAvailable(error)) return { claimed: 0, published: 0 };
      throw error;
    }
  }
}

/** A row not sent because an earlier event of the same entity failed transiently in this pass. */
class NotSentError extends Error {
  constructor(override readonly cause: unknown) {
    super('not sent: an earlier event of the same entity failed in this pass');
    this.name = 'NotSentError';
  }
}

/**
 * The entity a row's event is about (the CloudEvents `subject` in its payload), the key its
 * order is kept by; undefined for a payload without one (such rows are not chained).
 */
function entityOf(row: { payload: string }): string | undefined {
  try {
    const parsed = JSON.parse(row.payload) as { subject?: unknown };
    return typeof parsed?.subject === 'string' ? parsed.subject : undefined;
  } catch {
    return undefined;
  }
}

/** PostgreSQL's lock_not_available (55P03): `NOWAIT` met a row another transaction holds. */
function lockNotAvailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = (e as Error & { cause?: unknown }).cause, depth++) {
    if ((e as Error & { code?: string }).code === '55P03' || /could not obtain lock on row/.test(e.message)) return true;
  }
  return false;
}
