import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import client from 'prom-client';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { DomainError } from '@ledgerline/contracts';
import {
  addOutboxFailureColumns,
  createOutboxTable,
  dropSchema,
  enqueueEvent,
  MAX_OUTBOX_PAYLOAD_BYTES,
  openDatabase,
  OUTBOX_RELAY_LOCK_SQL,
  OutboxRelay,
  PortableMigration,
  schemaSql,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  type Knex,
  type Orm,
} from '../src';

// The relay every service runs, on a real PostgreSQL and on the embedded SQLite file, publishing
// to the real NATS server (a stream of its own).
class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
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

  it('sets aside an event NATS refuses for good (too large), counts and keeps it, and publishes the ones after it', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const row = (name: string, payload: string) => ({ id: `${name}-${run}`, subject: `${SUBJECT}.aside`, payload, created_at: new Date(), published_at: null, attempts: 0 });
    // Written past enqueueEvent's check (an older release, a hand-written row).
    await knex('outbox').insert([row('before', '{}'), row('big', 'x'.repeat(1_100_000)), row('after', '{}')]);
    const relay = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    const registry = new client.Registry();
    relay.registerMetrics(registry);

    expect(await relay.drain()).toBe(2);
    type Row = { id: string; published_at: unknown; failed_at: unknown; last_error: string | null; attempts: number };
    const rows: Row[] = await knex('outbox').select('id', 'published_at', 'failed_at', 'last_error', 'attempts').where('id', 'like', `%-${run}`);
    const byId: Record<string, Row> = Object.fromEntries(rows.map((r) => [r.id.split('-')[0], r]));
    expect(byId.before!.published_at).not.toBeNull();
    expect(byId.after!.published_at).not.toBeNull();
    expect(byId.big).toMatchObject({ published_at: null, attempts: 1 });
    expect(byId.big!.failed_at).not.toBeNull();
    expect(byId.big!.last_error).toMatch(/max_payload/);
    expect(await scrape(registry)).toMatchObject({ ledgerline_outbox_failed_total: 1, ledgerline_outbox_failed_events: 1, ledgerline_outbox_pending_events: 0, ledgerline_outbox_oldest_pending_seconds: 0 });
    // Passed by from now on.
    expect(await relay.drain()).toBe(0);
    await knex('outbox').where('id', `big-${run}`).delete();
  });

  it('stops at a transient publish failure: what went before is marked, that row and the later ones wait and go out in order', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const ids = ['a', 'b', 'c'].map((n) => `${n}-${run}`);
    await knex('outbox').insert(ids.map((id) => ({ id, subject: `${SUBJECT}.stall`, payload: '{}', created_at: new Date(), published_at: null, attempts: 0 })));
    const sent: string[] = [];
    const fakeJs = (failing?: string) =>
      ({
        publish: async (_subject: string, _payload: string, opts: { msgID: string }) => {
          sent.push(opts.msgID);
          if (opts.msgID === failing) throw Object.assign(new Error('connection closed'), { name: 'ClosedConnectionError' });
          return { stream: SUBJECT, seq: sent.length, duplicate: false };
        },
      }) as never;
    await expect(new OutboxRelay(orm, fakeJs(ids[1]), { logger, retentionMs: 0 }).drain()).rejects.toThrow(/connection closed/);
    const state = async () => (await knex('outbox').select('id', 'published_at', 'failed_at', 'last_error', 'attempts').whereIn('id', ids).orderBy('seq')) as { id: string; published_at: unknown; failed_at: unknown; last_error: string | null; attempts: number }[];
    const [a, b, c] = await state();
    expect(a!.published_at).not.toBeNull();
    expect(b).toMatchObject({ published_at: null, failed_at: null, attempts: 1 });
    expect(b!.last_error).toMatch(/connection closed/);
    expect(c).toMatchObject({ published_at: null, failed_at: null, attempts: 0 });
    sent.length = 0;
    expect(await new OutboxRelay(orm, fakeJs(), { logger, retentionMs: 0 }).drain()).toBe(2);
    expect(sent).toEqual([ids[1], ids[2]]);
    expect((await state()).every((r) => r.published_at !== null && r.failed_at === null)).toBe(true);
  });

  it('refuses at enqueue an event too large to publish: the caller\'s transaction fails, nothing is written', async () => {
    const run = randomBytes(3).toString('hex');
    const write = (size: number) =>
      orm.em.fork().transactional(async (em) => {
        enqueueEvent(em as never, 'customerCreated', { source: 'ledgerline/test', subject: `c-${run}`, key: [run, String(size)], time: new Date(), data: { note: 'x'.repeat(size) } });
      });
    const error = await write(MAX_OUTBOX_PAYLOAD_BYTES).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'EVENT_TOO_LARGE', details: { limit: MAX_OUTBOX_PAYLOAD_BYTES } });
    await write(1000);
    const knex = orm.em.getConnection().getKnex();
    const rows = await knex('outbox').select('payload').where('payload', 'like', `%"c-${run}"%`);
    expect(rows).toHaveLength(1);
    await knex('outbox').where('payload', 'like', `%"c-${run}"%`).delete();
  });

  it.runIf(_name === 'PostgreSQL')('publishes nothing while another relay holds the outbox, and goes on once it is free', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    await knex('outbox').insert({ id: `held-${run}`, subject: `${SUBJECT}.held`, payload: '{}', created_at: new Date(), published_at: null, attempts: 0 });
    const relay = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    const other = await knex.transaction();
    try {
      const locked = await other.raw(OUTBOX_RELAY_LOCK_SQL);
      expect(locked.rows[0].locked).toBe(true);
      expect(await relay.drain()).toBe(0);
      expect((await knex('outbox').where('id', `held-${run}`).first()).published_at).toBeNull();
    } finally {
      await other.commit();
    }
    expect(await relay.drain()).toBe(1);
  });
});
