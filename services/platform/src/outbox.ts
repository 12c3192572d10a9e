import { createCloudEvent, EVENTS, type EventName } from '@ledgerline/contracts';
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
 * Queues an event in the caller's transaction. If the transaction rolls back, the event never
 * existed; if it commits, the relay will publish it at least once.
 */
export function enqueueEvent<T>(em: Em, name: EventName, input: OutboxEventInput<T>): string {
  const def = EVENTS[name];
  const event = createCloudEvent({ source: input.source, type: def.type, subject: input.subject, time: input.time, data: input.data, key: input.key });
  em.create(OutboxMessage, { id: event.id, subject: def.subject, payload: JSON.stringify(event), createdAt: input.time, attempts: 0 });
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
 * Publishes outbox rows to JetStream in order, then marks them published. Rows are claimed with
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL so several replicas can relay side by side; a crash
 * between publish and mark re-publishes, and JetStream drops the duplicate by `Nats-Msg-Id`.
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
   * hearing from this one).
   */
  registerMetrics(registry: client.Registry, now: () => Date = () => new Date()): void {
    registry.registerMetric(this.published);
    registry.registerMetric(this.pruned);
    const waiting = onceAtATime(async () => {
      const knex = (this.orm.em.fork() as Em).getKnex();
      const [row] = await knex('outbox').whereNull('published_at').select(knex.raw('count(*) as n'), knex.raw('min(created_at) as oldest'));
      return { n: Number(row?.n ?? 0), oldest: row?.oldest == null ? null : new Date(row.oldest) };
    });
    new client.Gauge({ name: 'ledgerline_outbox_pending_events', help: 'Outbox events not published yet', registers: [registry], async collect() {
      this.set((await waiting()).n);
    } });
    new client.Gauge({ name: 'ledgerline_outbox_oldest_pending_seconds', help: 'Age of the oldest outbox event not published yet (0 when none waits)', registers: [registry], async collect() {
      const { oldest } = await waiting();
      // Rows are stamped with the service's clock: their age is read on the same clock.
      this.set(oldest ? Math.max(0, (now().getTime() - oldest.getTime()) / 1000) : 0);
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

  /** Publishes everything pending; returns how many rows were published. Used by tests too. */
  async drain(): Promise<number> {
    // In turn with the relay's own passes: a pass in flight holds its rows locked, skip-locked would
    // pass over them and the caller would find them unpublished when drain returned.
    const run = this.busy.then(async () => {
      let total = 0;
      for (;;) {
        const n = await this.publishBatch();
        total += n;
        if (n < this.batchSize) return total;
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
    let published = 0;
    try {
      published = await this.publishBatch();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox relay pass failed; will retry');
    }
    if (published < this.batchSize && this.retentionMs > 0 && Date.now() - this.lastPrune >= this.pruneEveryMs) {
      this.lastPrune = Date.now();
      try {
        await this.prune(new Date(Date.now() - this.retentionMs));
      } catch (error) {
        this.options.logger.warn({ err: error }, 'pruning published outbox rows failed; will retry');
      }
    }
    if (this.running) this.schedule(published >= this.batchSize ? 0 : this.idleDelayMs);
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

  private async publishBatch(): Promise<number> {
    const em = this.orm.em.fork();
    const postgres = dialectOf(this.orm) === 'postgresql';
    return em.transactional(async (tx) => {
      const knex = (tx as Em).getKnex();
      let query = knex('outbox').select('seq', 'id', 'subject', 'payload').whereNull('published_at').orderBy('seq').limit(this.batchSize);
      if (postgres) query = query.forUpdate().skipLocked();
      // `em.execute` runs inside this transaction; `getConnection().execute` would take a second
      // connection (no row lock on PostgreSQL, a deadlock on SQLite's single connection).
      const rows: { seq: number; id: string; subject: string; payload: string }[] = await (tx as Em).execute(query);
      if (rows.length === 0) return 0;
      await Promise.all(rows.map((row) => this.js.publish(row.subject, row.payload, { msgID: row.id })));
      this.published.inc(rows.length);
      await (tx as Em).execute(
        knex('outbox').whereIn('seq', rows.map((r) => r.seq)).update({ published_at: new Date(), attempts: knex.raw('attempts + 1') }),
      );
      return rows.length;
    });
  }
}
