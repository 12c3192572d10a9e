import client from 'prom-client';
import { connectMessaging, createLogger, openDatabase, systemClock, type Clock, type Knex, type Logger } from '@ledgerline/platform';
import { loadHubConfig, type HubConfig } from './config';
import { migrations } from './persistence/migrations';
import { createHubMetrics } from './metrics';
import { startDispatcher } from './application/dispatch-deliveries';
import { createHostResolver } from './host-resolver';
import type { HubDeps } from './application/deps';
import { checkSecretKeys, resealSecrets } from './application/seal-secrets';
import { settleUnknownTypeEvents } from './application/unknown-event-types';
import { accountsReadUpTo, startEventConsumers, streamReader } from './events/event-consumer';
import { hubRoutes } from './http/routes';
import { startHttpServer } from './http/server';

export const SERVICE_NAME = 'events-hub';

export interface RunningHub {
  /** Base URL, e.g. http://127.0.0.1:4006 (the hub is at /tmf-api/eventManagement/v4/hub). */
  url: string;
  port: number;
  config: HubConfig;
  knex: Knex;
  logger: Logger;
  /** Runs the dispatcher now instead of at its next poll. */
  wake(): void;
  close(): Promise<void>;
}

/**
 * Starts the events hub: PostgreSQL (schema `events_hub`, migrations), NATS, the event consumers,
 * the delivery dispatcher and the REST API. Not a GraphQL subgraph: partners register webhooks here.
 */
export async function startEventsHub(options: { env?: NodeJS.ProcessEnv; clock?: Clock; logger?: Logger } = {}): Promise<RunningHub> {
  const config = loadHubConfig(options.env ?? process.env);
  const logger = options.logger ?? createLogger(SERVICE_NAME, config.logLevel);
  const clock = options.clock ?? systemClock;
  const stack: [string, () => Promise<unknown>][] = [];
  const closeAll = async () => {
    for (const [what, close] of stack.reverse()) await close().catch((error) => logger.warn({ err: error, what }, 'error while closing'));
    stack.length = 0;
  };
  try {
    const orm = await openDatabase({
      service: SERVICE_NAME,
      databaseUrl: config.databaseUrl,
      schema: config.databaseSchema,
      sqlitePath: '',
      entities: [],
      migrations,
    });
    stack.push(['database', () => orm.close()]);
    const knex = orm.em.getKnex() as unknown as Knex;
    const registry = new client.Registry();
    registry.setDefaultLabels({ service: SERVICE_NAME });
    client.collectDefaultMetrics({ register: registry });
    const metrics = createHubMetrics(registry, () => knex);
    // Before anything is signed: the keys open the stored secrets, and values in plain text, sealed before key ids
    // or under a previous key are sealed again under the current one.
    await checkSecretKeys({ knex, config, logger });
    const report = await resealSecrets({ knex, config });
    metrics.unreadableSecrets(report.unreadable.length);
    if (report.resealed) logger.info({ resealed: report.resealed }, 'hub secrets sealed under the current EVENTS_HUB_SECRET_KEY');
    const messaging = await connectMessaging(config.natsUrl, `ledgerline-${SERVICE_NAME}`);
    stack.push(['nats', () => messaging.nc.drain()]);
    // Callback hosts resolved by c-ares, bounded, cached by TTL: never getaddrinfo on libuv's 4 threads, which a partner
    // whose DNS never answers held for the system resolver's whole timeout (every other partner's deliveries waited).
    const resolve = createHostResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, systemFallback: !config.production });
    const base = { knex, clock, config, logger, metrics, callbackPolicy: { production: config.production, resolve } };
    const dispatcher = startDispatcher(
      base,
      report.unreadable.map((e) => e.hubId),
    );
    stack.push(['dispatcher', () => dispatcher.stop()]);
    const deps: HubDeps = { ...base, wake: dispatcher.wake };
    // Held events of types this version knows and the one before did not (an upgrade after their producer's): at once,
    // not a minute later.
    await settleUnknownTypeEvents(deps, clock.now());
    stack.push(['event consumers', await startEventConsumers(deps, messaging, { schema: config.databaseSchema })]);
    const server = await startHttpServer({
      service: SERVICE_NAME,
      host: config.host,
      port: config.port,
      portSetting: 'EVENTS_HUB_PORT',
      logger,
      registry,
      metricsToken: config.metricsToken,
      routes: hubRoutes(deps, streamReader(messaging, logger, config.replayMaxEvents), config.jwtSecret, logger, accountsReadUpTo(messaging, config.databaseSchema)),
      health: async () => {
        await knex.raw('select 1');
        await messaging.nc.rtt();
      },
    });
    stack.push(['http server', () => server.close()]);
    logger.info({ url: server.url }, 'events hub ready');
    return { url: server.url, port: server.port, config, knex, logger, wake: dispatcher.wake, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
