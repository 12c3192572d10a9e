import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { DocumentNode } from 'graphql';
import client from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError } from './config';
import { createFormatError } from './graphql-errors';

export interface GraphQLHttpOptions<C extends BaseContext> {
  service: string;
  /** Builds the Apollo server; receives the HTTP server so it can drain it on stop. */
  apollo: (httpServer: http.Server) => ApolloServer<C>;
  host: string;
  port: number;
  logger: Logger;
  portSetting: string;
  /** Builds the per-request context; may throw a DomainError (e.g. a forged caller). */
  context: (req: http.IncomingMessage) => Promise<C>;
  /**
   * Readiness checks by name (`database`, `nats`, a subgraph's name): each resolves when its dependency answers
   * and throws otherwise. `/health` answers only which names failed; the errors are logged.
   */
  health: HealthChecks;
  /** The registry `/metrics` serves (the service's own counters live there too); default: a new one. */
  registry?: client.Registry;
  /** When set (METRICS_TOKEN), `/metrics` answers only `Authorization: Bearer <token>`; 401 otherwise. */
  metricsToken?: string;
}

/** Named readiness checks: each resolves when its dependency answers, throws (the cause is logged, not answered) otherwise. */
export type HealthChecks = Record<string, () => Promise<unknown>>;

/**
 * Runs every check at once and answers `/health`: 200 `{status: "ok", service}`, or 503
 * `{status: "unavailable", service, failed: [<check names>]}`. A check's error (a driver's message: internal
 * host names, ports, a connection string with its password) never goes into the answer, which the probes and
 * anyone reaching the port read; it is logged at warn (`health check failed`, with `check` and `err`).
 */
export async function answerHealth(res: http.ServerResponse, service: string, checks: HealthChecks, logger: Logger): Promise<void> {
  const names = Object.keys(checks);
  const outcomes = await Promise.allSettled(names.map((name) => checks[name]!()));
  const failed: string[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    failed.push(names[i]!);
    logger.warn({ check: names[i], err: outcome.reason }, 'health check failed');
  });
  const body = failed.length ? { status: 'unavailable', service, failed } : { status: 'ok', service };
  res.writeHead(failed.length ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export interface SubgraphServerOptions<C extends BaseContext> extends Omit<GraphQLHttpOptions<C>, 'apollo'> {
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<C>;
  /** Whether `__schema` / `__type` are answered (GRAPHQL_INTROSPECTION; `_service { sdl }` always is). */
  introspection: boolean;
}

export interface SubgraphServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 5 * 1024 * 1024;

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Whether a `/metrics` request may be answered: always without a token (development), otherwise
 * only with `Authorization: Bearer <token>`, compared in constant time.
 */
export function metricsAuthorized(req: http.IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

/** The 401 `/metrics` answers without the right bearer token. */
export function refuseMetrics(res: http.ServerResponse): void {
  res
    .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="metrics"' })
    .end(JSON.stringify({ errors: [{ message: '/metrics needs Authorization: Bearer <METRICS_TOKEN>', extensions: { code: 'UNAUTHENTICATED' } }] }));
}

export function listen(server: http.Server, host: string, port: number, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new ConfigError(setting, `port ${port} on ${host} is already in use`));
      else if (error.code === 'EACCES') reject(new ConfigError(setting, `no permission to listen on port ${port}`));
      else reject(error);
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function startSubgraphServer<C extends BaseContext>(options: SubgraphServerOptions<C>): Promise<SubgraphServer> {
  return startGraphQLHttpServer({
    ...options,
    apollo: (httpServer) =>
      new ApolloServer<C>({
        schema: buildSubgraphSchema({ typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> }),
        formatError: createFormatError(options.logger),
        // Federated traces (ftv1) for the gateway; listed explicitly so Apollo does not log that it added them.
        plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginInlineTrace()],
        introspection: options.introspection,
        includeStacktraceInErrorResponses: false,
        // The service stops its own parts in order on SIGINT/SIGTERM (runServiceMain).
        stopOnTerminationSignals: false,
      }),
  });
}

/**
 * A GraphQL server over plain node:http: `/graphql` (Apollo), `/health` (readiness: status and the names of
 * failed checks only, see answerHealth) and
 * `/metrics` (Prometheus). Apollo's framework-neutral `executeHTTPGraphQLRequest` keeps us free
 * of a web framework for three routes.
 */
export async function startGraphQLHttpServer<C extends BaseContext>(options: GraphQLHttpOptions<C>): Promise<SubgraphServer> {
  const registry = options.registry ?? new client.Registry();
  registry.setDefaultLabels({ service: options.service });
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({ name: 'ledgerline_graphql_requests_total', help: 'GraphQL requests', labelNames: ['status'], registers: [registry] });

  const httpServer = http.createServer();
  const apollo = options.apollo(httpServer);
  await apollo.start();

  httpServer.on('request', (req, res) => {
    void handle(req, res).catch((error: Error & { status?: number }) => {
      options.logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.writeHead(error.status ?? 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: error.status ? error.message : 'Internal error' }] }));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      await answerHealth(res, options.service, options.health, options.logger);
      return;
    }
    if (url.pathname === '/metrics') {
      if (!metricsAuthorized(req, options.metricsToken)) {
        refuseMetrics(res);
        return;
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      return;
    }
    if (url.pathname !== '/graphql' && url.pathname !== '/') {
      res.writeHead(404).end();
      return;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    const raw = req.method === 'POST' ? await readBody(req) : '';
    let body: unknown = raw;
    if (raw && (headers.get('content-type') ?? '').includes('application/json')) {
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] }));
        return;
      }
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => options.context(req),
    });
    requests.inc({ status: String(result.status ?? 200) });
    for (const [key, value] of result.headers) res.setHeader(key, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  const port = await listen(httpServer, options.host, options.port, options.portSetting).catch(async (error) => {
    await apollo.stop();
    throw error;
  });
  return {
    url: `http://${options.host}:${port}/graphql`,
    port,
    async close() {
      await apollo.stop();
      httpServer.close();
    },
  };
}
