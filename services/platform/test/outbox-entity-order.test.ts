import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { addOutboxFailureColumns, createOutboxTable, dropSchema, openDatabase, OutboxRelay, PortableMigration, schemaSql, TEST_DATABASE_URL, TEST_NATS_URL, type Knex, type Orm } from '../src';

// Per-entity order on a real NATS and PostgreSQL when one publish of a pipelined batch fails
// transiently and a later event of the same entity would otherwise land first.
class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
  }
}
const STREAM = `T_OUTBOX_ORDER_${randomBytes(4).toString('hex').toUpperCase()}`;
const schema = `t_outbox_order_${randomBytes(4).toString('hex')}`;
const logger = { warn: () => undefined } as never;
let nc: NatsConnection;
let jsm: JetStreamManager;
let orm: Orm;

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`] });
  orm = await openDatabase({ service: 'outbox-order-test', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities: [], migrations: [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }] });
});
afterAll(async () => {
  await orm?.close();
  await jsm?.streams.delete(STREAM).catch(() => undefined);
  await nc?.close();
  await dropSchema(schema);
});

/** The real JetStream client, except that the first publish of `failId` fails (late, like a timeout). */
function failingOnce(js: JetStreamClient, failId: string): JetStreamClient {
  let failed = false;
  return new Proxy(js, {
    get(target, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(target, prop, receiver) as unknown;
      return async (subject: string, payload: string, opts?: { msgID?: string }) => {
        if (opts?.msgID === failId && !failed) {
          failed = true;
          await new Promise((r) => setTimeout(r, 50));
          throw Object.assign(new Error('TIMEOUT'), { name: 'TimeoutError' });
        }
        return target.publish(subject, payload, opts);
      };
    },
  });
}

async function streamOrder(): Promise<string[]> {
  const info = await jsm.streams.info(STREAM);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(STREAM, { seq });
    if (m) ids.push(m.header.get('Nats-Msg-Id'));
  }
  return ids;
}

describe('outbox relay keeps per-entity order across a transient publish failure', () => {
  it('never lets a later event of an entity land before an earlier one that failed transiently', async () => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const row = (id: string, entity: string) => ({ id: `${id}-${run}`, subject: `${STREAM}.e`, payload: JSON.stringify({ subject: entity, id }), created_at: new Date(), published_at: null, attempts: 0 });
    // a1, a2: the same entity; b1: another one, after a1 in the outbox.
    await knex('outbox').insert([row('a1', `sub-a-${run}`), row('b1', `sub-b-${run}`), row('a2', `sub-a-${run}`)]);
    const relay = new OutboxRelay(orm, failingOnce(jetstream(nc), `a1-${run}`), { logger, retentionMs: 0 });

    await expect(relay.drain()).rejects.toThrow(/TIMEOUT/);
    expect(await relay.drain()).toBe(3);

    const landed = (await streamOrder()).filter((id) => id.endsWith(run)).map((id) => id.split('-')[0]);
    // Entity a's events in outbox order, whatever else landed around them.
    expect(landed.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2']);
    // Each event once (a re-publish inside the duplicate window is dropped).
    expect([...landed].sort()).toEqual(['a1', 'a2', 'b1']);
    const pending = await knex('outbox').whereNull('published_at').where('id', 'like', `%-${run}`).count({ n: '*' });
    expect(Number(pending[0]!.n)).toBe(0);
  });
});

describe('outbox relay throughput with per-entity chaining', () => {
  it.each([
    ['many entities', 2000],
    ['one entity', 1],
  ])('drains 2000 events of %s', async (_label, entities) => {
    const knex = orm.em.getConnection().getKnex();
    const run = randomBytes(3).toString('hex');
    const rows = Array.from({ length: 2000 }, (_, i) => ({ id: `t${i}-${run}`, subject: `${STREAM}.t`, payload: JSON.stringify({ subject: `sub-${i % entities}-${run}`, i }), created_at: new Date(), published_at: null, attempts: 0 }));
    await knex.batchInsert('outbox', rows, 500);
    const relay = new OutboxRelay(orm, jetstream(nc), { logger, retentionMs: 0 });
    const started = performance.now();
    expect(await relay.drain()).toBe(2000);
    const ms = performance.now() - started;
    console.info(`outbox relay: 2000 events of ${entities} entit${entities === 1 ? 'y' : 'ies'} in ${ms.toFixed(0)} ms (${Math.round(2000_000 / ms)}/s)`);
  });
});
