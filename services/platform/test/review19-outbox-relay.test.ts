import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { addOutboxFailureColumns, createOutboxTable, dropSchema, openDatabase, OutboxRelay, PortableMigration, schemaSql, TEST_DATABASE_URL, TEST_NATS_URL, type Knex, type Orm } from '../src';

// Review 19: the outbox relay on real PostgreSQL and NATS (a stream of its own).
class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
  }
}
const migrations = [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }];
const STREAM = `T_R19_${randomBytes(4).toString('hex').toUpperCase()}`;
const schema = `t_r19_outbox_${randomBytes(4).toString('hex')}`;
const logger = { warn: () => undefined } as never;
let nc: NatsConnection;
let jsm: JetStreamManager;
let orm: Orm;

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`], duplicate_window: 2 * 60 * 1_000_000_000 });
  orm = await openDatabase({ service: 'outbox-r19', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities: [], migrations });
});
afterAll(async () => {
  await orm?.close();
  await jsm?.streams.delete(STREAM).catch(() => undefined);
  await nc?.close();
  await dropSchema(schema);
});

async function streamIds(filter: string): Promise<string[]> {
  const name = `r19_${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(STREAM, { name, filter_subject: filter, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 30_000_000_000 });
  const consumer = await jetstream(nc).consumers.get(STREAM, name);
  const pending = (await consumer.info()).num_pending;
  const ids: string[] = [];
  if (pending === 0) return ids;
  for await (const m of await consumer.fetch({ max_messages: pending, expires: 2_000 })) {
    ids.push((m.json() as { id: string }).id);
    if (ids.length === pending) break;
  }
  return ids;
}

describe('review 19: outbox relay', () => {
  it('one event too large for NATS does not stop every later event of the service from being published', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const subject = `${STREAM}.poison.${run}`;
    const big = JSON.stringify({ id: `big-${run}`, data: 'x'.repeat(1_100_000) }); // over NATS' 1 MiB max_payload
    await knex('outbox').insert([
      { id: `big-${run}`, subject, payload: big, created_at: new Date(), published_at: null, attempts: 0 },
      { id: `ok-${run}`, subject, payload: JSON.stringify({ id: `ok-${run}` }), created_at: new Date(), published_at: null, attempts: 0 },
    ]);
    const relay = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    // The relay's own passes retry (`pass` logs and schedules again); a few passes here.
    for (let i = 0; i < 3; i++) await relay.drain().catch(() => undefined);
    const ok = await knex('outbox').where('id', `ok-${run}`).first();
    // The next test must not meet this row.
    await knex('outbox').where('id', `big-${run}`).update({ published_at: new Date() });
    // Now: the big row fails the whole batch's transaction on every pass, so `ok` (and everything
    // enqueued after it) stays unpublished for ever.
    expect(ok.published_at).not.toBeNull();
    expect(await streamIds(subject)).toContain(`ok-${run}`);
  });

  it('two relays side by side (replicas) do not publish a later event of an entity before an earlier one', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const subject = `${STREAM}.order.${run}`;
    const row = (n: number) => ({ id: `e${n}-${run}`, subject, payload: JSON.stringify({ id: `e${n}-${run}`, subject: `invoice-${run}` }), created_at: new Date(), published_at: null, attempts: 0 });
    await knex('outbox').insert([row(1), row(2)]);
    const relayA = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    // Replica A's pass has claimed the first row (its transaction holds the row lock while it
    // publishes); replica B runs a pass meanwhile.
    const trx = await knex.transaction();
    await trx('outbox').where('id', `e1-${run}`).forUpdate();
    const relayB = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    try {
      await relayB.drain();
    } finally {
      await trx.commit();
    }
    await relayA.drain();
    // Now: B skipped the locked row and published e2 first: the stream holds e2, e1.
    expect(await streamIds(subject)).toEqual([`e1-${run}`, `e2-${run}`]);
  });
});
