import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, TEST_DATABASE_URL, TEST_NATS_URL } from '@ledgerline/platform';
import { resealSecrets } from '../src/application/seal-secrets';
import { startEventsHub } from '../src/service';
import { api, HUB, publishPing, startHubForTest, startReceiver, until, type Received } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'sealed-p' };
// A key of our own (64 hex digits), not the development default.
const KEY = 'a1'.repeat(32);

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest({ EVENTS_HUB_SECRET_KEY: KEY });
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const sign = (secret: string, r: Received) => `sha256=${createHmac('sha256', secret).update(`${r.headers['x-ledgerline-timestamp']}.${r.body}`).digest('hex')}`;

async function deliveryOf(): Promise<Received> {
  const event = await publishPing(t.messaging);
  const [got] = await until('the delivery', () => (receiver.of(event.id).length ? receiver.of(event.id) : null));
  return got!;
}

describe('hub secrets are encrypted at rest (AES-256-GCM under EVENTS_HUB_SECRET_KEY)', () => {
  it('the stored value is not the secret, and deliveries are still signed with the secret', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    const row = await t.hub.knex('hub').where({ id: hub.id }).first();
    expect(row.secret).not.toBe(hub.secret);
    expect(row.secret).not.toContain(hub.secret);
    expect(row.secret).not.toContain(Buffer.from(hub.secret).toString('base64'));
    expect(row.secret).toMatch(/^v1:/);
    const got = await deliveryOf();
    expect(got.headers['x-ledgerline-signature']).toBe(sign(hub.secret, got));

    // Rotated secrets (the new one and the one kept for the overlap) are stored encrypted too.
    const rotated = (await api(t.hub, 'POST', `${HUB}/${hub.id}/rotateSecret`, PARTNER)).body;
    const after = JSON.stringify(await t.hub.knex('hub').where({ id: hub.id }).first());
    expect(after).not.toContain(rotated.secret);
    expect(after).not.toContain(hub.secret);
    await t.hub.knex('hub').where({ id: hub.id }).update({ status: 'DELETED' });
  });

  it('a plain-text row from before encryption is still used, then encrypted in place', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    const legacy = 'legacy-plain-text-secret-of-an-old-hub';
    await t.hub.knex('hub').where({ id: hub.id }).update({ secret: legacy });
    const got = await deliveryOf();
    expect(got.headers['x-ledgerline-signature']).toBe(sign(legacy, got));

    expect((await resealSecrets({ knex: t.hub.knex, config: t.hub.config })).resealed).toBe(1);
    const row = await t.hub.knex('hub').where({ id: hub.id }).first();
    expect(row.secret).toMatch(/^v1:/);
    expect(row.secret).not.toContain(legacy);
    expect((await resealSecrets({ knex: t.hub.knex, config: t.hub.config })).resealed).toBe(0);
    const again = await deliveryOf();
    expect(again.headers['x-ledgerline-signature']).toBe(sign(legacy, again));
  });

  it('a hub started with another key over these rows refuses to start, naming EVENTS_HUB_SECRET_KEY', async () => {
    const other = startEventsHub({
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        NATS_URL: TEST_NATS_URL,
        EVENTS_HUB_DB_SCHEMA: t.hub.config.databaseSchema,
        EVENTS_HUB_PORT: '0',
        LOG_LEVEL: 'silent',
        EVENTS_HUB_SECRET_KEY: 'b2'.repeat(32),
      },
    });
    await expect(other).rejects.toBeInstanceOf(ConfigError);
    await expect(other).rejects.toThrow(/EVENTS_HUB_SECRET_KEY/);
  });
});
