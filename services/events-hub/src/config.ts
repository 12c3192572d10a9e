import { promises as dnsPromises } from 'node:dns';
import { ConfigError, DEFAULT_PORTS, DEV_JWT_SECRET, isProduction, metricsTokenSetting, parsePort, parseUrl, secretSetting } from '@ledgerline/platform';
import type { RetryPolicy } from './domain/delivery';
import type { SecretKeys } from './domain/secrets';

export interface HubConfig {
  host: string;
  port: number;
  databaseUrl: string;
  databaseSchema: string;
  natsUrl: string;
  logLevel: string;
  jwtSecret: string;
  /** Bearer token `/metrics` requires (METRICS_TOKEN; required in production). */
  metricsToken: string;
  production: boolean;
  retry: RetryPolicy;
  /** How often the dispatcher looks for due deliveries when nothing woke it (ms). */
  pollMs: number;
  /** Deliveries claimed per pass, and how many of them are in flight at once. */
  batchSize: number;
  concurrency: number;
  /**
   * Most deliveries of one partner (all its hubs together; a hub registered without a partner on its own)
   * claimed or in flight at once (default half of `concurrency`): a partner whose receiver times out on a
   * backlog holds that many workers, never all of them, however many hubs it registered.
   */
  concurrencyPerPartner: number;
  /** Per-attempt HTTP timeout (ms). */
  timeoutMs: number;
  /**
   * Callback hosts' DNS (c-ares, not libuv's threadpool): servers (EVENTS_HUB_DNS_SERVERS, comma-separated `ip[:port]`;
   * empty: the system's) and the most one lookup may take (EVENTS_HUB_DNS_TIMEOUT_MS, 5000, at most the HTTP timeout);
   * a lookup without an answer by then fails the attempt (retried after the backoff).
   */
  dns: { servers: string[]; timeoutMs: number };
  /**
   * Most ACTIVE hubs one partner may have (EVENTS_HUB_MAX_HUBS_PER_PARTNER, 20): each event is stored once per
   * matching hub, so an integration registering a hub on every deploy would multiply the delivery rows. The next
   * registration is refused with 409 HUB_LIMIT_REACHED; a deleted hub frees its place.
   */
  maxHubsPerPartner: number;
  /** Most stream messages one replay may read (they are held in memory): a larger one is refused, naming `from`. */
  replayMaxEvents: number;
  /** Hours a DELIVERED / DEAD delivery is kept after it got that status (0: kept for ever); the dispatcher prunes older ones. */
  retention: { deliveredHours: number; deadHours: number };
  /** AES-256-GCM key (32 bytes) hub secrets are encrypted with at rest (EVENTS_HUB_SECRET_KEY). */
  secretKey: Buffer;
  /** Earlier keys (EVENTS_HUB_PREVIOUS_SECRET_KEYS): they only open values sealed under them, until the re-seal pass moves those to `secretKey`. */
  previousSecretKeys: Buffer[];
  /** Hours a rotated-out secret still signs deliveries, next to the new one (0: the new one alone at once). */
  secretOverlapHours: number;
  /**
   * Hours an event about a billing account the hub has not placed yet (its billingaccount.created not read) waits for
   * the partner hubs it may belong to (EVENTS_HUB_UNPLACED_HOLD_HOURS, 24); then it is dropped for them.
   */
  unplacedHoldHours: number;
  /**
   * Hours an event on a subject the hub's registry does not know (its producer deployed before the hub) waits for the
   * OWN_CUSTOMERS partner hubs it may belong to (EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS, 720): until the hub is upgraded
   * to a version that knows it; then it is dropped for them (the operator's and ALL hubs had it at once).
   */
  unknownTypeHoldHours: number;
}

/**
 * The development key for hub secrets (public in this repository, like the other development
 * secrets): production refuses it through secretSetting.
 */
export const DEV_EVENTS_HUB_SECRET_KEY = '6c65646765726c696e652d6465762d6576656e74732d6875622d6b65792d3332';

/** 32 bytes as 64 hex digits or base64; null for anything else. */
function parseKey(raw: string): Buffer | null {
  let key: Buffer | null = null;
  if (/^[0-9a-f]{64}$/i.test(raw)) key = Buffer.from(raw, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) key = Buffer.from(raw, 'base64');
  return key && key.length === 32 ? key : null;
}

/** EVENTS_HUB_SECRET_KEY: 32 bytes as 64 hex digits or base64 (`openssl rand -base64 32`); required in production. */
function secretKey(env: NodeJS.ProcessEnv): Buffer {
  const raw = secretSetting(env, 'EVENTS_HUB_SECRET_KEY', DEV_EVENTS_HUB_SECRET_KEY).trim();
  const key = parseKey(raw);
  if (!key) throw new ConfigError('EVENTS_HUB_SECRET_KEY', 'must be 32 random bytes, as 64 hex digits or base64 (openssl rand -base64 32)');
  if (isProduction(env) && key.equals(Buffer.from(DEV_EVENTS_HUB_SECRET_KEY, 'hex')))
    throw new ConfigError('EVENTS_HUB_SECRET_KEY', 'is the development key; set a random one in production');
  return key;
}

/**
 * EVENTS_HUB_PREVIOUS_SECRET_KEYS: comma-separated earlier keys, each as EVENTS_HUB_SECRET_KEY (a bad one is
 * named by its position, never echoed). The current key listed again is dropped, as are repeats.
 */
function previousSecretKeys(env: NodeJS.ProcessEnv, current: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  const entries = (env.EVENTS_HUB_PREVIOUS_SECRET_KEYS ?? '').split(',').map((e) => e.trim());
  entries.forEach((entry, i) => {
    if (!entry) return;
    const key = parseKey(entry);
    if (!key) throw new ConfigError('EVENTS_HUB_PREVIOUS_SECRET_KEYS', `entry ${i + 1} is not 32 bytes as 64 hex digits or base64 (comma-separated keys)`);
    if (!key.equals(current) && !keys.some((k) => k.equals(key))) keys.push(key);
  });
  return keys;
}

function positiveInt(env: NodeJS.ProcessEnv, setting: string, fallback: number): number {
  const raw = env[setting];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(setting, `"${raw}" is not a positive whole number`);
  return value;
}

function nonNegativeInt(env: NodeJS.ProcessEnv, setting: string, fallback: number, zero = 'keeps them'): number {
  const raw = env[setting];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(setting, `"${raw}" is not a whole number of hours (0 ${zero})`);
  return value;
}

/** EVENTS_HUB_DNS_SERVERS (checked as `Resolver.setServers` would) and EVENTS_HUB_DNS_TIMEOUT_MS (capped at the HTTP timeout). */
function dnsSettings(env: NodeJS.ProcessEnv): HubConfig['dns'] {
  const servers = (env.EVENTS_HUB_DNS_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    if (servers.length) new dnsPromises.Resolver().setServers(servers);
  } catch {
    throw new ConfigError('EVENTS_HUB_DNS_SERVERS', 'must be comma-separated IP addresses, each with an optional :port ([ipv6]:port)');
  }
  const timeoutMs = Math.min(positiveInt(env, 'EVENTS_HUB_DNS_TIMEOUT_MS', 5_000), positiveInt(env, 'EVENTS_HUB_TIMEOUT_MS', 10_000));
  return { servers, timeoutMs };
}

/** The keys hub secrets are sealed (current) and opened (current, then previous) with. */
export const hubSecretKeys = (config: Pick<HubConfig, 'secretKey' | 'previousSecretKeys'>): SecretKeys => ({
  current: config.secretKey,
  previous: config.previousSecretKeys,
});

function secretKeys(env: NodeJS.ProcessEnv): Pick<HubConfig, 'secretKey' | 'previousSecretKeys'> {
  const current = secretKey(env);
  return { secretKey: current, previousSecretKeys: previousSecretKeys(env, current) };
}

/** The hub's settings; a wrong one is a ConfigError naming it. PostgreSQL is required (row locks with SKIP LOCKED). */
export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'the events hub needs PostgreSQL (npm start starts one; set DATABASE_URL otherwise)');
  const baseDelayMs = positiveInt(env, 'EVENTS_HUB_RETRY_BASE_MS', 5_000);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: parsePort('EVENTS_HUB_PORT', env.EVENTS_HUB_PORT, DEFAULT_PORTS['events-hub']!),
    databaseUrl: parseUrl('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']),
    databaseSchema: env.EVENTS_HUB_DB_SCHEMA ?? `${env.DB_SCHEMA_PREFIX ?? ''}events_hub`,
    natsUrl: parseUrl('NATS_URL', env.NATS_URL ?? 'nats://127.0.0.1:4222', ['nats:', 'tls:']),
    logLevel: env.LOG_LEVEL ?? 'info',
    jwtSecret: secretSetting(env, 'JWT_SECRET', DEV_JWT_SECRET),
    metricsToken: metricsTokenSetting(env),
    production: isProduction(env),
    retry: {
      maxAttempts: positiveInt(env, 'EVENTS_HUB_MAX_ATTEMPTS', 8),
      baseDelayMs,
      maxDelayMs: Math.max(baseDelayMs, positiveInt(env, 'EVENTS_HUB_RETRY_MAX_MS', 3_600_000)),
    },
    pollMs: positiveInt(env, 'EVENTS_HUB_POLL_MS', 1_000),
    batchSize: positiveInt(env, 'EVENTS_HUB_BATCH', 50),
    concurrency: positiveInt(env, 'EVENTS_HUB_CONCURRENCY', 8),
    // EVENTS_HUB_CONCURRENCY_PER_HUB: the setting's name when the share was per hub, still read.
    concurrencyPerPartner: positiveInt(
      env,
      env.EVENTS_HUB_CONCURRENCY_PER_PARTNER === undefined && env.EVENTS_HUB_CONCURRENCY_PER_HUB !== undefined ? 'EVENTS_HUB_CONCURRENCY_PER_HUB' : 'EVENTS_HUB_CONCURRENCY_PER_PARTNER',
      Math.max(1, Math.ceil(positiveInt(env, 'EVENTS_HUB_CONCURRENCY', 8) / 2)),
    ),
    timeoutMs: positiveInt(env, 'EVENTS_HUB_TIMEOUT_MS', 10_000),
    dns: dnsSettings(env),
    replayMaxEvents: positiveInt(env, 'EVENTS_HUB_REPLAY_MAX_EVENTS', 100_000),
    maxHubsPerPartner: positiveInt(env, 'EVENTS_HUB_MAX_HUBS_PER_PARTNER', 20),
    retention: {
      deliveredHours: nonNegativeInt(env, 'EVENTS_HUB_RETENTION_HOURS', 168),
      deadHours: nonNegativeInt(env, 'EVENTS_HUB_DEAD_RETENTION_HOURS', 720),
    },
    ...secretKeys(env),
    secretOverlapHours: nonNegativeInt(env, 'EVENTS_HUB_SECRET_OVERLAP_HOURS', 24, 'signs with the new secret alone at once'),
    unplacedHoldHours: positiveInt(env, 'EVENTS_HUB_UNPLACED_HOLD_HOURS', 24),
    unknownTypeHoldHours: positiveInt(env, 'EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS', 720),
  };
}
