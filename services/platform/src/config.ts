import path from 'node:path';
import { DEFAULT_CALLER_MAX_AGE_SECONDS } from './caller';
import { queryLimitsSetting, type QueryLimits } from './query-limits';

/**
 * A setting that is missing or wrong stops start-up with one line naming the setting,
 * never a stack trace: operators fix configuration, not code.
 */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface ServiceConfig {
  service: string;
  host: string;
  port: number;
  /** PostgreSQL URL; absent means the embedded SQLite file. */
  databaseUrl?: string;
  /** PostgreSQL schema for this service (database per service; one schema each on a shared server). */
  databaseSchema: string;
  sqlitePath: string;
  natsUrl: string;
  logLevel: string;
  /** HMAC secret shared by gateway and subgraphs to sign forwarded caller claims. */
  internalSecret: string;
  /** Oldest forwarded-caller signature accepted (LEDGERLINE_CALLER_MAX_AGE_SECONDS, default 300). */
  callerMaxAgeSeconds: number;
  /** Bearer token `/metrics` requires (METRICS_TOKEN); empty: unauthenticated (development only). */
  metricsToken: string;
  /** Whether GraphQL introspection is answered (GRAPHQL_INTROSPECTION; off in production by default). */
  introspection: boolean;
  /** How long each `/health` check may take before it counts as failed (HEALTH_CHECK_TIMEOUT_MS, default 2000). */
  healthCheckTimeoutMs: number;
  /** The gateway's query limits (GATEWAY_MAX_QUERY_*); the subgraph applies them doubled (subgraphQueryLimits). */
  queryLimits: QueryLimits;
}

export const DEFAULT_PORTS: Record<string, number> = {
  gateway: 4000,
  catalog: 4001,
  subscribers: 4002,
  usage: 4003,
  wallets: 4004,
  invoicing: 4005,
  /** Partner webhooks (TMF688 hub); not a subgraph. */
  'events-hub': 4006,
};

export const DEV_INTERNAL_SECRET = 'ledgerline-dev-internal-secret';

/** Shortest secret production accepts (HMAC-SHA256 keys: 32 bytes of entropy). */
export const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** Whether this process runs as production (NODE_ENV=production, as deploy/k8s sets it). */
export const isProduction = (env: NodeJS.ProcessEnv): boolean => env.NODE_ENV === 'production';

/**
 * A secret setting (JWT_SECRET, LEDGERLINE_INTERNAL_SECRET, …). Development falls back to
 * `devDefault`, which is public in this repository; production refuses to start without a real
 * one: unset, a template placeholder (deploy/k8s ships `change-me`), one of the development
 * defaults or shorter than MIN_PRODUCTION_SECRET_LENGTH is a ConfigError naming the setting,
 * since anyone could otherwise mint ADMIN tokens or sign a forged caller.
 */
export function secretSetting(env: NodeJS.ProcessEnv, setting: string, devDefault: string): string {
  const value = env[setting];
  if (!isProduction(env)) return value || devDefault;
  if (!value) throw new ConfigError(setting, 'must be set in production (NODE_ENV=production): the development default is public');
  if (value === devDefault || /change-?me|ledgerline-dev|development/i.test(value)) throw new ConfigError(setting, 'is a placeholder or a development secret; set a random secret in production');
  if (value.length < MIN_PRODUCTION_SECRET_LENGTH) throw new ConfigError(setting, `must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters in production`);
  return value;
}

/**
 * METRICS_TOKEN: the bearer token every `/metrics` requires when set. Production must set one
 * (the same rules as every secret): operational data — account counts, backlogs, error rates — is
 * not for whoever can reach a pod. Development without it serves `/metrics` openly ('' here).
 */
export function metricsTokenSetting(env: NodeJS.ProcessEnv): string {
  return secretSetting(env, 'METRICS_TOKEN', '');
}

/**
 * GRAPHQL_INTROSPECTION (`on` / `off`): whether `__schema` / `__type` queries are answered. Off in
 * production unless set `on`, on otherwise. `_service { sdl }` (federation) is a normal field and
 * is not affected.
 */
export function introspectionSetting(env: NodeJS.ProcessEnv): boolean {
  const raw = env.GRAPHQL_INTROSPECTION;
  if (raw === undefined || raw === '') return !isProduction(env);
  if (raw !== 'on' && raw !== 'off') throw new ConfigError('GRAPHQL_INTROSPECTION', `"${raw}": give "on" or "off"`);
  return raw === 'on';
}

/** LEDGERLINE_CALLER_MAX_AGE_SECONDS: how old a forwarded caller's signature may be (seconds, default 300). */
export function callerMaxAgeSetting(env: NodeJS.ProcessEnv): number {
  return positiveWholeNumberSetting(env, 'LEDGERLINE_CALLER_MAX_AGE_SECONDS', DEFAULT_CALLER_MAX_AGE_SECONDS, 'seconds');
}

/**
 * A setting that must be a positive whole number (`unit` names what it counts, for the error): unset or empty gives
 * `fallback`; anything else stops start-up with a ConfigError naming the setting.
 */
export function positiveWholeNumberSetting(env: NodeJS.ProcessEnv, setting: string, fallback: number, unit?: string): number {
  const raw = env[setting];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new ConfigError(setting, `"${raw}" is not a positive whole number${unit ? ` of ${unit}` : ''}`);
  return Number(raw);
}

/**
 * HEALTH_CHECK_TIMEOUT_MS: how long each `/health` check (a subgraph's `select 1` and NATS round trip, the gateway's
 * call to each subgraph's `/health`) may take before it counts as failed, with reason "timeout" in the log
 * (milliseconds, default 2000). Keep it under the probes' `timeoutSeconds` so they get the 503.
 */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 2_000;

export function healthCheckTimeoutSetting(env: NodeJS.ProcessEnv): number {
  return positiveWholeNumberSetting(env, 'HEALTH_CHECK_TIMEOUT_MS', DEFAULT_HEALTH_CHECK_TIMEOUT_MS, 'milliseconds');
}

export function parsePort(setting: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(setting, `"${raw}" is not a TCP port (0-65535)`);
  return port;
}

export function parseUrl(setting: string, raw: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(setting, `"${raw}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(setting, `expected ${protocols.join(' or ')} URL, got "${url.protocol}"`);
  return raw;
}

export function loadServiceConfig(service: string, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const upper = service.toUpperCase();
  const portSetting = `${upper}_PORT`;
  const databaseUrl = env.DATABASE_URL ? parseUrl('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']) : undefined;
  const dataDir = env.LEDGERLINE_DATA_DIR ?? path.resolve('.data');
  return {
    service,
    host: env.HOST ?? '127.0.0.1',
    port: parsePort(portSetting, env[portSetting], DEFAULT_PORTS[service] ?? 0),
    databaseUrl,
    databaseSchema: env[`${upper}_DB_SCHEMA`] ?? `${env.DB_SCHEMA_PREFIX ?? ''}${service}`,
    sqlitePath: path.join(dataDir, `${service}.sqlite`),
    natsUrl: parseUrl('NATS_URL', env.NATS_URL ?? 'nats://127.0.0.1:4222', ['nats:', 'tls:']),
    logLevel: env.LOG_LEVEL ?? 'info',
    internalSecret: secretSetting(env, 'LEDGERLINE_INTERNAL_SECRET', DEV_INTERNAL_SECRET),
    callerMaxAgeSeconds: callerMaxAgeSetting(env),
    metricsToken: metricsTokenSetting(env),
    introspection: introspectionSetting(env),
    healthCheckTimeoutMs: healthCheckTimeoutSetting(env),
    queryLimits: queryLimitsSetting(env),
  };
}
