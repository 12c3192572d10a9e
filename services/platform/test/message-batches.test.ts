import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import { messageBatches } from '../src/durable-consumer';

// The micro-batch reader every service's consumers use, against the real NATS server, on a stream of its own.
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const STREAM = `T_BATCHES_${randomBytes(4).toString('hex').toUpperCase()}`;
const logger = { warn: () => undefined };
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`] });
});
afterAll(async () => {
  await jsm?.streams.delete(STREAM).catch(() => undefined);
  await nc?.close();
});

const durable = async (name: string, ackWaitSeconds = 30) => {
  await jsm.consumers.add(STREAM, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: `${STREAM}.${name}`, ack_wait: ackWaitSeconds * 1_000_000_000 });
  return js.consumers.get(STREAM, name);
};

describe('messageBatches', () => {
  it('hands a lone message over at once, and what has piled up as batches of at most max', async () => {
    const batches = messageBatches(await durable('a'), { max: 4, logger, name: 'a' });
    try {
      const t0 = performance.now();
      await js.publish(`${STREAM}.a`, '1');
      const first = await batches.next();
      // A fetch would have waited for its batch to fill or a second to pass.
      expect(performance.now() - t0).toBeLessThan(500);
      expect(first!.map((m) => m.string())).toEqual(['1']);
      first!.forEach((m) => m.ack());
      await Promise.all(Array.from({ length: 10 }, (_, i) => js.publish(`${STREAM}.a`, String(i + 2))));
      await new Promise((r) => setTimeout(r, 200));
      const seen: string[] = [];
      while (seen.length < 10) {
        const batch = (await batches.next())!;
        expect(batch.length).toBeLessThanOrEqual(4);
        batch.forEach((m) => m.ack());
        seen.push(...batch.map((m) => m.string()));
      }
      expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 2)));
    } finally {
      await batches.close();
    }
  });

  it('closing loses nothing: what was read ahead but not handed over comes to the next reader', async () => {
    const consumer = await durable('b', 2);
    const first = messageBatches(consumer, { max: 1, logger, name: 'b' });
    await Promise.all(['x', 'y', 'z'].map((v) => js.publish(`${STREAM}.b`, v)));
    const taken = (await first.next())!;
    taken.forEach((m) => m.ack());
    await new Promise((r) => setTimeout(r, 200)); // y and z are read ahead by now, unacknowledged
    await first.close();
    expect(await first.next()).toBeNull();

    const second = messageBatches(await js.consumers.get(STREAM, 'b'), { max: 10, logger, name: 'b' });
    try {
      const rest = new Map<number, string>();
      const t0 = performance.now();
      while (rest.size < 2 && performance.now() - t0 < 10_000) {
        const batch = (await second.next())!;
        batch.forEach((m) => m.ack());
        for (const m of batch) rest.set(m.seq, m.string());
      }
      expect([...taken.map((m) => m.string()), ...[...rest.values()].sort()]).toEqual(['x', 'y', 'z']);
    } finally {
      await second.close();
    }
  });
});
