/**
 * A consumer batch whose transaction PostgreSQL picked as a deadlock (or serialization) victim is
 * run again in place before it is nak'd: before, the whole batch (up to a couple of thousand
 * messages) went back to NATS and came again, every message re-applied. Any other failure is still
 * nak'd and redelivered. A private nats-server: real JetStream, no other run's durables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { connectMessaging, type Messaging } from '../src/nats';
import { runDurableConsumers } from '../src/durable-consumer';
import { startPrivateNats } from '../src/testing';
import { transactionRetries } from '../src/transient-retry';

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => logger } as never;
let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let messaging: Messaging;

beforeAll(async () => {
  nats = await startPrivateNats();
  messaging = await connectMessaging(nats.url, 'consumer-retry-test');
}, 60_000);
afterAll(async () => {
  await messaging?.nc.close();
  await nats?.stop();
});

const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));
const retriesOf = async (operation: string) => (await transactionRetries.get()).values.filter((v) => v.labels.operation === operation).reduce((n, v) => n + v.value, 0);

/** Runs one consumer on `filter` whose handler fails once with `error`; what each run saw: [body, delivery count]. */
async function consumerFailingOnce(name: string, filter: string, error: Error) {
  const runs: [string, number][][] = [];
  const stop = await runDurableConsumers({ messaging, logger, name: 'retry_host', throwaway: true }, [
    {
      name,
      filter,
      handle: async (messages: JsMsg[]) => {
        runs.push(messages.map((m) => [m.string(), m.info.deliveryCount]));
        if (runs.length === 1) throw error;
      },
    },
  ]);
  return { runs, stop };
}

describe('a consumer batch that fails', () => {
  it('as a deadlock victim (40P01) runs again at once, counted, and is acknowledged without a redelivery', async () => {
    const before = await retriesOf('consumer:deadlocked');
    const c = await consumerFailingOnce('deadlocked', 'billing.retrytest.deadlock.>', Object.assign(new Error('deadlock detected'), { code: '40P01' }));
    await messaging.js.publish('billing.retrytest.deadlock.created', 'm1');
    await settle();
    await c.stop();
    expect(c.runs).toEqual([[['m1', 1]], [['m1', 1]]]);
    expect(await retriesOf('consumer:deadlocked')).toBe(before + 1);
  });

  it('otherwise is nak\'d and redelivered, as before', async () => {
    const c = await consumerFailingOnce('broken', 'billing.retrytest.broken.>', new Error('relation "nothing" does not exist'));
    await messaging.js.publish('billing.retrytest.broken.created', 'm2');
    await settle();
    await c.stop();
    expect(c.runs).toEqual([[['m2', 1]], [['m2', 2]]]);
    expect(await retriesOf('consumer:broken')).toBe(0);
  });
});
