import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createCloudEvent, EVENTS, type CloudEvent } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, signToken, TEST_DATABASE_URL, TEST_NATS_URL, type Logger, type Messaging, type TokenClaims } from '@ledgerline/platform';
import { startEventsHub, type RunningHub } from '../src/service';

export const HUB = '/tmf-api/eventManagement/v4/hub';

/** The hub on a free port, in a schema of its own, with short intervals and a clock the test moves (and, when given, the test's logger). */
export async function startHubForTest(
  env: Record<string, string> = {},
  options: { logger?: Logger } = {},
): Promise<{ hub: RunningHub; clock: ManualClock; messaging: Messaging; close(): Promise<void> }> {
  const schema = `t_${randomBytes(4).toString('hex')}_events_hub`;
  const clock = new ManualClock(new Date());
  const hub = await startEventsHub({
    clock,
    ...(options.logger ? { logger: options.logger } : {}),
    env: {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      EVENTS_HUB_DB_SCHEMA: schema,
      EVENTS_HUB_PORT: '0',
      EVENTS_HUB_POLL_MS: '50',
      EVENTS_HUB_TIMEOUT_MS: '2000',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...env,
    },
  });
  const messaging = await connectMessaging(TEST_NATS_URL, 'events-hub-test');
  return {
    hub,
    clock,
    messaging,
    async close() {
      await messaging.nc.drain();
      await hub.close();
      await dropSchema(schema);
    },
  };
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  event: CloudEvent;
}

/** A partner's webhook receiver on 127.0.0.1: records every POST and answers `status` (settable). */
export async function startReceiver(): Promise<{ url: string; received: Received[]; status: number; of(eventId: string): Received[]; close(): Promise<void> }> {
  const state = {
    url: '',
    received: [] as Received[],
    status: 200,
    of: (eventId: string) => state.received.filter((r) => r.event.id === eventId),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      state.received.push({ headers: req.headers, body, event: JSON.parse(body) as CloudEvent });
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return state;
}

/** Publishes a CloudEvent as the outbox relay does: its JSON on the subject, Nats-Msg-Id = `msgId` (default: the event id). */
export async function publishPing(messaging: Messaging, event?: CloudEvent, msgId?: string): Promise<CloudEvent> {
  const e =
    event ??
    createCloudEvent({
      source: 'ledgerline/catalog',
      type: EVENTS.system.type,
      subject: 'events-hub-test',
      time: new Date(),
      data: { probe: randomBytes(6).toString('hex') },
      key: [randomBytes(8).toString('hex')],
    });
  await messaging.js.publish(EVENTS.system.subject, JSON.stringify(e), { msgID: msgId ?? e.id });
  return e;
}

const tokens = new Map<string, string>();
export async function api(
  hub: RunningHub,
  method: string,
  path: string,
  as: TokenClaims | null,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (as) {
    const key = JSON.stringify(as);
    if (!tokens.has(key)) tokens.set(key, await signToken(as));
    headers.authorization = `Bearer ${tokens.get(key)}`;
  }
  const response = await fetch(`${hub.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
