import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { BILLING_STREAM } from '@ledgerline/contracts';
import { ConfigError } from './config';

export type { NatsConnection, JetStreamClient, JetStreamManager };

export interface Messaging {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * NATS_URL may carry a user and password (`nats://usage:<password>@nats:4222`, percent-encoded
 * where needed; deploy/nats/authorization.conf has one user per service). nats.js does not read
 * credentials from a URL, so they are taken out of it and passed as options; `shown` is the URL
 * with the password masked, for messages and logs.
 */
export function natsConnectOptions(natsUrl: string): { servers: string; user?: string; pass?: string; token?: string; shown: string } {
  let url: URL;
  try {
    url = new URL(natsUrl);
  } catch {
    return { servers: natsUrl, shown: natsUrl };
  }
  if (!url.username && !url.password) return { servers: natsUrl, shown: natsUrl };
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const servers = `${url.protocol}//${url.host}`;
  // `nats://<token>@host`: a token, as every NATS client reads it.
  if (!url.password) return { servers, token: user, shown: `${url.protocol}//***@${url.host}` };
  return { servers, user, pass, shown: `${url.protocol}//${url.username}:***@${url.host}` };
}

export async function connectMessaging(natsUrl: string, name: string): Promise<Messaging> {
  const { shown, ...credentials } = natsConnectOptions(natsUrl);
  let nc: NatsConnection;
  try {
    // noAsyncTraces: every request (each JetStream publish) would otherwise build two Error objects
    // for their stack traces up front, which was the largest single CPU cost of the outbox relay.
    nc = await connect({ ...credentials, name, timeout: 5000, maxReconnectAttempts: -1, noAsyncTraces: true });
  } catch (error) {
    throw new ConfigError('NATS_URL', `cannot connect to NATS at ${shown} (${(error as Error).message})`);
  }
  const jsm = await jetstreamManager(nc).catch((error: Error) => {
    throw new ConfigError('NATS_URL', `NATS at ${shown} has no JetStream (start nats-server with -js): ${error.message}`);
  });
  await ensureStream(jsm, BILLING_STREAM.name, [...BILLING_STREAM.subjects]);
  return { nc, js: jetstream(nc), jsm };
}

/** Creates a stream if it is missing; leaves an existing one (and its data) alone. */
export async function ensureStream(jsm: JetStreamManager, name: string, subjects: string[]): Promise<void> {
  try {
    await jsm.streams.info(name);
  } catch {
    try {
      await jsm.streams.add({ name, subjects, duplicate_window: 2 * 60 * 1_000_000_000 });
    } catch (error) {
      // Another service may have created it at the same moment.
      if (!/already in use|exists/i.test((error as Error).message)) throw error;
    }
  }
}

/**
 * Where this run's throw-away consumers (tests, end-to-end runs) start reading the stream: the
 * process's start, or the start of the test file when test files share one process
 * (`startRunWindow`, vitest without isolation: a later file must not replay an earlier file's events).
 */
let runStartedAt = new Date();

/** Starts a new window for throw-away consumers: a test file's setup, where one process runs many files. */
export function startRunWindow(at: Date = new Date()): void {
  runStartedAt = at;
}

/**
 * Where a new durable consumer starts. A real deployment reads the whole stream (its read models
 * are built from history); a test or end-to-end run that shares NATS with other runs starts at
 * its own start (`runStartedAt`), not at "new", which would miss what was published while it was
 * still creating its consumers.
 */
export function deliverFrom(startAtRunStart: boolean): { deliver_policy: DeliverPolicy; opt_start_time?: string } {
  return startAtRunStart ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: runStartedAt.toISOString() } : { deliver_policy: DeliverPolicy.All };
}
