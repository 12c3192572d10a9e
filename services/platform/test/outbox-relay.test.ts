import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import client from 'prom-client';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createOutboxTable, dropSchema, openDatabase, OutboxRelay, PortableMigration, schemaSql, TEST_DATABASE_URL, TEST_NATS_URL, type Knex, type Orm } from '../src';

// The relay every service runs, on a real PostgreSQL and on the embedded SQLite file, publishing
// to the real NATS server (a stream of its own).
class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(createOutboxTable(knex));
  }
}
const migrations = [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }];
const SUBJECT = `T_OUTBOX_${randomBytes(4).toString('hex').toUpperCase()}`;
const schema = `t_outbox_${randomBytes(4).toString('hex')}`;
const sqliteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-relay-'));
const logger = { warn: () => undefined } as never;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: SUBJECT, subjects: [`${SUBJECT}.>`] });
});
afterAll(async () => {
  await jsm?.streams.delete(SUBJECT).catch(() => undefined);
  await nc?.close();
  await dropSchema(schema);
  fs.rmSync(sqliteDir, { recursive: true, force: true });
});

const dialects: [string, () => Promise<Orm>][] = [
  ['PostgreSQL', () => openDatabase({ service: 'outbox-test', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities: [], migrations })],
  ['SQLite', () => openDatabase({ service: 'outbox-test', schema: 'unused', sqlitePath: path.join(sqliteDir, 'outbox.sqlite'), entities: [], migrations })],
];

async function scrape(registry: client.Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await registry.metrics()).split('\n')) {
    const m = /^(ledgerline_outbox_\w+) ([\d.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

describe.each(dialects)('outbox relay on %s', (_name, open) => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await open();
  });
  afterAll(async () => {
    await orm?.close();
  });

  it('publishes what waits, reports the backlog and its age, and prunes only published rows past their retention', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const row = (i: number, createdAt: Date, publishedAt: Date | null) => ({ id: `evt-${run}-${i}`, subject: `${SUBJECT}.e`, payload: `{"n":${i}}`, created_at: createdAt, published_at: publishedAt, attempts: publishedAt ? 1 : 0 });
    const now = Date.now();
    const hoursAgo = (h: number) => new Date(now - h * 3_600_000);
    await knex('outbox').insert([
      // Published long ago: past a 72 h retention.
      row(1, hoursAgo(100), hoursAgo(99)),
      row(2, hoursAgo(80), hoursAgo(73)),
      // Published recently, though the event itself is old (a replay, a clock set back in a test): kept.
      row(3, hoursAgo(500), hoursAgo(1)),
      // Not published yet, created ten minutes ago: never pruned, counted as waiting.
      row(4, new Date(now - 600_000), null),
      row(5, new Date(now - 60_000), null),
    ]);
    const relay = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 72 * 3_600_000 });
    const registry = new client.Registry();
    relay.registerMetrics(registry);

    const before = await scrape(registry);
    expect(before.ledgerline_outbox_pending_events).toBe(2);
    // The oldest waiting event is ten minutes old (a scrape a few seconds later at most).
    expect(before.ledgerline_outbox_oldest_pending_seconds).toBeGreaterThanOrEqual(600);
    expect(before.ledgerline_outbox_oldest_pending_seconds).toBeLessThan(660);

    expect(await relay.drain()).toBe(2);
    const after = await scrape(registry);
    expect(after).toMatchObject({ ledgerline_outbox_pending_events: 0, ledgerline_outbox_oldest_pending_seconds: 0, ledgerline_outbox_published_total: 2 });
    const info = await jsm.streams.info(SUBJECT);
    expect(info.state.messages).toBeGreaterThanOrEqual(2);

    expect(await relay.prune(new Date(now - 72 * 3_600_000))).toBe(2);
    const left = (await knex('outbox').select('id').where('id', 'like', `evt-${run}-%`).orderBy('id')).map((r: { id: string }) => r.id);
    expect(left).toEqual([3, 4, 5].map((i) => `evt-${run}-${i}`));
    expect((await scrape(registry)).ledgerline_outbox_pruned_total).toBe(2);
    // Nothing more is due: a second pass deletes nothing.
    expect(await relay.prune(new Date(now - 72 * 3_600_000))).toBe(0);
  });
});
