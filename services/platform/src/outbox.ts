import { createCloudEvent, EVENTS, type EventName } from '@ledgerline/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
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
}

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

  constructor(
    private readonly orm: Orm,
    private readonly js: JetStreamClient,
    private readonly options: RelayOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.idleDelayMs = options.idleDelayMs ?? 100;
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
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n < this.batchSize) return total;
    }
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
    if (this.running) this.schedule(published >= this.batchSize ? 0 : this.idleDelayMs);
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
      await (tx as Em).execute(
        knex('outbox').whereIn('seq', rows.map((r) => r.seq)).update({ published_at: new Date(), attempts: knex.raw('attempts + 1') }),
      );
      return rows.length;
    });
  }
}
