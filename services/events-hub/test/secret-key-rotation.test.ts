// Rotating EVENTS_HUB_SECRET_KEY itself (docs/operations.md, "Rotating EVENTS_HUB_SECRET_KEY"): values name the key
// that sealed them, old keys stay readable through EVENTS_HUB_PREVIOUS_SECRET_KEYS, a pass re-seals them under the
// current key, and a value under a key no longer configured fails its hub's deliveries only, with a clear reason.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, TEST_DATABASE_URL, TEST_NATS_URL, type Messaging } from '@ledgerline/platform';
import { loadHubConfig } from '../src/config';
import { resealSecrets } from '../src/application/seal-secrets';
import { keyId, sealSecret } from '../src/domain/secrets';
import { startEventsHub, type RunningHub } from '../src/service';
import { api, HUB, publishPing, startReceiver, until, type Received } from './support';

const ADMIN = { role: 'ADMIN' as const };
const PARTNER = { role: 'PARTNER' as const, partnerId: 'key-rotation-p' };
const KEY_A = randomBytes(32);
const KEY_B = randomBytes(32);
const KEY_C = randomBytes(32); // never configured
const TOKEN = 'k3y-r0tation-metrics-T0ken-4b1a8e6f';
const schema = `t_${randomBytes(4).toString('hex')}_events_hub`;

let hub: RunningHub | undefined;
let messaging: Messaging;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const logs: { level: number; hubId?: string; msg: string; keyId?: string }[] = [];

/** The hub on the same schema (a restart) with these keys; its warnings collected in `logs`. */
async function restart(current: Buffer, previous: Buffer[] = []): Promise<RunningHub> {
  await hub?.close();
  hub = undefined;
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  hub = await startEventsHub({
    clock: new ManualClock(new Date()),
    logger,
    env: {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      EVENTS_HUB_DB_SCHEMA: schema,
      EVENTS_HUB_PORT: '0',
      EVENTS_HUB_POLL_MS: '50',
      EVENTS_HUB_TIMEOUT_MS: '2000',
      METRICS_TOKEN: TOKEN,
      EVENTS_HUB_SECRET_KEY: current.toString('base64'),
      EVENTS_HUB_PREVIOUS_SECRET_KEYS: previous.map((k) => k.toString('hex')).join(','),
      // The last case registers 30 more hubs for one partner (over the default 20).
      EVENTS_HUB_MAX_HUBS_PER_PARTNER: '50',
    },
  });
  return hub;
}

const sign = (secret: string, r: Received) => `sha256=${createHmac('sha256', secret).update(`${r.headers['x-ledgerline-timestamp']}.${r.body}`).digest('hex')}`;

async function ping(): Promise<string> {
  const event = createCloudEvent({
    source: 'ledgerline/catalog',
    type: EVENTS.system.type,
    subject: 'events-hub-key-rotation',
    time: new Date(),
    data: { probe: randomBytes(6).toString('hex') },
    key: [randomBytes(8).toString('hex')],
  });
  await publishPing(messaging, event);
  return event.id;
}

const storedValues = async (id: string) => {
  const row = await hub!.knex('hub').where({ id }).first();
  const previous = (typeof row.previous_secrets === 'string' ? JSON.parse(row.previous_secrets) : (row.previous_secrets ?? [])) as { secret: string }[];
  return [row.secret as string, ...previous.map((p) => p.secret)];
};

const metricsText = async () => (await fetch(`${hub!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

// Two partners' hubs (one rotated, so it also holds a previous secret) and one under a key nobody configured.
const secrets: Record<string, { current: string; previous?: string }> = {};
let first: string;
let second: string;
let lost: string;

beforeAll(async () => {
  messaging = await connectMessaging(TEST_NATS_URL, 'events-hub-key-rotation-test');
  receiver = await startReceiver();
  await restart(KEY_A);
  const register = async () => (await api(hub!, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
  const a = await register();
  first = a.id;
  const rotated = (await api(hub!, 'POST', `${HUB}/${first}/rotateSecret`, PARTNER)).body;
  secrets[first] = { current: rotated.secret, previous: a.secret };
  const b = await register();
  second = b.id;
  secrets[second] = { current: b.secret };
  lost = (await register()).id;
  await hub!
    .knex('hub')
    .where({ id: lost })
    .update({ secret: sealSecret(KEY_C, lost, 'secret-under-a-lost-key') });
});

afterAll(async () => {
  await hub?.close();
  await messaging?.nc.drain();
  await receiver?.close();
  await dropSchema(schema);
});

describe('EVENTS_HUB_SECRET_KEY rotation', () => {
  it('sealed values name their key: A under key A', async () => {
    for (const id of [first, second]) for (const v of await storedValues(id)) expect(v.endsWith(`:${keyId(KEY_A)}`)).toBe(true);
  });

  it('restarted with current B and previous A: deliveries are signed with the same secrets, values re-sealed under B', async () => {
    await restart(KEY_B, [KEY_A]);
    const eventId = await ping();
    const got = await until('both deliveries', () => (receiver.of(eventId).length >= 2 ? receiver.of(eventId) : null));
    for (const r of got)
      expect([`${sign(secrets[first]!.current, r)}, ${sign(secrets[first]!.previous!, r)}`, sign(secrets[second]!.current, r)]).toContain(
        r.headers['x-ledgerline-signature'],
      );
    expect(new Set(got.map((r) => r.headers['x-ledgerline-signature'])).size).toBe(2);

    // The start-up pass re-sealed every value under B; nothing of A is left.
    for (const id of [first, second]) for (const v of await storedValues(id)) expect(v.endsWith(`:${keyId(KEY_B)}`)).toBe(true);
    // Idempotent: another pass (another replica) finds nothing to do.
    const again = await resealSecrets({ knex: hub!.knex, config: hub!.config });
    expect(again.resealed).toBe(0);
    expect(again.unreadable.map((e) => e.hubId)).toEqual([lost]);
  });

  it('a value under a key no longer configured: its hub fails with a clear reason, logged and counted; the others are unaffected', async () => {
    expect(logs.some((l) => l.hubId === lost && l.keyId === keyId(KEY_C))).toBe(true);
    expect(await metricsText()).toMatch(/ledgerline_events_hub_unreadable_secrets\{service="events-hub"\} 1/);
    const eventId = await ping();
    const [delivery] = await until('the failed attempt', async () => {
      const list = (await api(hub!, 'GET', `${HUB}/${lost}/deliveries`, ADMIN)).body as { eventId: string; attempts: number; lastError: string | null }[];
      const failed = list.filter((d) => d.eventId === eventId && d.attempts > 0);
      return failed.length ? failed : null;
    });
    expect(delivery!.lastError).toMatch(/EVENTS_HUB_SECRET_KEY|EVENTS_HUB_PREVIOUS_SECRET_KEYS/);
    expect(delivery!.lastError).toContain(keyId(KEY_C));
    expect(await metricsText()).toMatch(/ledgerline_events_hub_secret_unreadable_total\{service="events-hub"\} [1-9]/);
    // The two readable hubs got the event; the lost one never got anything.
    await until('the readable hubs', () => receiver.of(eventId).length >= 2);
    expect(receiver.of(eventId)).toHaveLength(2);
  });

  it('restarted with B alone: starts, and still signs correctly', async () => {
    await restart(KEY_B);
    const eventId = await ping();
    const got = await until('both deliveries', () => (receiver.of(eventId).length >= 2 ? receiver.of(eventId) : null));
    for (const r of got)
      expect([`${sign(secrets[first]!.current, r)}, ${sign(secrets[first]!.previous!, r)}`, sign(secrets[second]!.current, r)]).toContain(
        r.headers['x-ledgerline-signature'],
      );
  });

  it('two replicas re-sealing at once: every value re-sealed exactly once, all under the current key', async () => {
    const ids = [first, second];
    for (let i = 0; i < 30; i++) ids.push((await api(hub!, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body.id);
    // Their values as a replica still on key A (current) would have written them.
    for (const id of ids)
      await hub!
        .knex('hub')
        .where({ id })
        .update({ secret: sealSecret(KEY_A, id, `s-${id}`), previous_secrets: null });
    const config = loadHubConfig({
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      EVENTS_HUB_SECRET_KEY: KEY_B.toString('hex'),
      EVENTS_HUB_PREVIOUS_SECRET_KEYS: KEY_A.toString('base64'),
    });
    const deps = { knex: hub!.knex, config };
    const [one, two] = await Promise.all([resealSecrets(deps, 5), resealSecrets(deps, 5)]);
    expect(one.resealed + two.resealed).toBe(ids.length);
    for (const id of ids) expect((await storedValues(id))[0]!.endsWith(`:${keyId(KEY_B)}`)).toBe(true);
  });
});

describe('EVENTS_HUB_PREVIOUS_SECRET_KEYS', () => {
  const base = { DATABASE_URL: 'postgres://x@127.0.0.1/test', EVENTS_HUB_SECRET_KEY: KEY_B.toString('base64') };
  it('takes comma-separated keys (base64 or hex, spaces and empty entries ignored); a bad one is refused, naming the setting', () => {
    expect(loadHubConfig(base).previousSecretKeys).toEqual([]);
    const keys = loadHubConfig({ ...base, EVENTS_HUB_PREVIOUS_SECRET_KEYS: ` ${KEY_A.toString('hex')}, ${KEY_C.toString('base64')},` }).previousSecretKeys;
    expect(keys.map((k) => k.toString('hex'))).toEqual([KEY_A.toString('hex'), KEY_C.toString('hex')]);
    expect(() => loadHubConfig({ ...base, EVENTS_HUB_PREVIOUS_SECRET_KEYS: `${KEY_A.toString('hex')},short` })).toThrow(/^EVENTS_HUB_PREVIOUS_SECRET_KEYS: /);
    // The current key listed again is harmless (dropped).
    expect(loadHubConfig({ ...base, EVENTS_HUB_PREVIOUS_SECRET_KEYS: KEY_B.toString('hex') }).previousSecretKeys).toEqual([]);
  });
});
