import fs from 'node:fs';
import type http from 'node:http';
import { GraphQLError, type DocumentNode } from 'graphql';
import { gql } from 'graphql-tag';
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import client from 'prom-client';
import { DomainError, sharedTypeDefs, type Caller, type ServiceName } from '@ledgerline/contracts';
import { ConfigError, loadServiceConfig, type ServiceConfig } from './config';
import { openDatabase, type Em, type Orm } from './database';
import { createLogger, type Logger } from './logger';
import { connectMessaging, type Messaging } from './nats';
import { OutboxRelay } from './outbox';
import { callerFromHeaders } from './caller';
import { startSubgraphServer, type SubgraphServer } from './subgraph-server';
import { transactionRetries, type RetryScope } from './transient-retry';

export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** What a running service has: handed to background jobs, consumers and request contexts. */
export interface ServiceRuntime {
  config: ServiceConfig;
  logger: Logger;
  orm: Orm;
  messaging: Messaging;
  relay: OutboxRelay;
  clock: Clock;
  /** Prometheus registry of this running service, served at `/metrics`: register the service's own metrics here. */
  metrics: client.Registry;
}

/** Every resolver gets this; a service adds its own loaders through `context`. */
export interface RequestContext {
  caller: Caller;
  /** A fresh entity manager per request: no identity map leaks between callers. */
  em: Em;
  runtime: ServiceRuntime;
  logger: Logger;
  /** The request's root fields (`recordPayment`), set once the operation is parsed: what its metrics and logs name it. */
  operation?: string;
}

/** Where a mutation's transaction retries are counted and logged (see retryTransientFailures). */
export function retryScopeOf(ctx: Pick<RequestContext, 'runtime' | 'logger' | 'operation'>): RetryScope {
  return { service: ctx.runtime.config.service, operation: ctx.operation ?? 'graphql', logger: ctx.logger };
}

export interface ServiceDefinition<X extends object = object> {
  name: ServiceName;
  /** Path of the service's SDL-first schema.graphql. */
  schemaPath: URL;
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  resolvers: GraphQLResolverMap<RequestContext & X>;
  /** Per-request additions, such as DataLoaders for batched entity resolution. */
  context?: (base: RequestContext) => X;
  /** Consumers and jobs; returns how to stop them. */
  background?: (runtime: ServiceRuntime) => Promise<() => Promise<void>>;
}

export interface RunningService {
  name: string;
  url: string;
  port: number;
  runtime: ServiceRuntime;
  close(): Promise<void>;
}

/** A service's SDL plus the shared scalars and value types, defined once in contracts. */
export function loadSdl(schemaPath: URL): string {
  return `${fs.readFileSync(schemaPath, 'utf8')}\n${sharedTypeDefs}`;
}

export function loadTypeDefs(schemaPath: URL): DocumentNode {
  return gql(loadSdl(schemaPath));
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  logger?: Logger;
}

/** Starts one service: database + migrations, NATS, outbox relay, background jobs, GraphQL. */
export async function startService<X extends object>(def: ServiceDefinition<X>, options: StartOptions = {}): Promise<RunningService> {
  const config = loadServiceConfig(def.name, options.env ?? process.env);
  const logger = options.logger ?? createLogger(def.name, config.logLevel);
  const stack: [string, () => Promise<unknown>][] = [];
  const closeAll = async () => {
    for (const [what, close] of stack.reverse()) {
      await close().catch((error) => logger.warn({ err: error, what }, 'error while closing'));
      logger.debug({ what }, 'closed');
    }
  };
  try {
    const orm = await openDatabase({ service: def.name, databaseUrl: config.databaseUrl, schema: config.databaseSchema, sqlitePath: config.sqlitePath, entities: def.entities, migrations: def.migrations });
    stack.push(['database', () => orm.close()]);
    const messaging = await connectMessaging(config.natsUrl, `ledgerline-${def.name}`);
    stack.push(['nats', () => messaging.nc.drain()]);
    const relay = new OutboxRelay(orm, messaging.js, { logger });
    relay.start();
    stack.push(['outbox relay', () => relay.stop()]);
    const runtime: ServiceRuntime = { config, logger, orm, messaging, relay, clock: options.clock ?? systemClock, metrics: new client.Registry() };
    relay.registerMetrics(runtime.metrics, () => runtime.clock.now());
    runtime.metrics.registerMetric(transactionRetries);
    if (def.background) stack.push(['background jobs', await def.background(runtime)]);

    const server: SubgraphServer = await startSubgraphServer<RequestContext & X>({
      service: def.name,
      typeDefs: loadTypeDefs(def.schemaPath),
      resolvers: def.resolvers,
      host: config.host,
      port: config.port,
      portSetting: `${def.name.toUpperCase()}_PORT`,
      logger,
      registry: runtime.metrics,
      metricsToken: config.metricsToken,
      introspection: config.introspection,
      queryLimits: config.queryLimits,
      context: async (req: http.IncomingMessage) => {
        let caller: Caller;
        try {
          // The wall clock, not runtime.clock: a signature's age is transport security, not billing time.
          caller = callerFromHeaders((name) => req.headers[name] as string | undefined, config.internalSecret, new Date(), { maxAgeSeconds: config.callerMaxAgeSeconds });
        } catch (error) {
          if (error instanceof DomainError) throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
          throw error;
        }
        const base: RequestContext = { caller, em: orm.em.fork() as Em, runtime, logger };
        return { ...base, ...(def.context?.(base) ?? ({} as X)) };
      },
      // Each with HEALTH_CHECK_TIMEOUT_MS: a PostgreSQL that accepts but never answers, or a partitioned NATS, is a
      // prompt 503 naming the check (neither `select 1` nor `rtt` can be cancelled; a hung one is left to its driver).
      health: {
        database: () => orm.em.getConnection().execute('select 1'),
        nats: () => messaging.nc.rtt(),
      },
      healthOptions: { timeoutMs: config.healthCheckTimeoutMs },
    });
    stack.push(['graphql server', () => server.close()]);
    logger.info({ url: server.url }, `${def.name} subgraph ready`);
    return { name: def.name, url: server.url, port: server.port, runtime, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** `main.ts` of every service: start, stop cleanly on SIGINT/SIGTERM, one line on bad config. */
export async function runServiceMain<X extends object>(def: ServiceDefinition<X>): Promise<void> {
  let running: RunningService;
  try {
    running = await startService(def);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ledgerline ${def.name}: configuration error: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.runtime.logger.info({ signal }, 'shutting down');
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
