import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { DocumentNode } from 'graphql';
import client from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError, DEFAULT_HEALTH_CHECK_TIMEOUT_MS } from './config';
import { createFormatError } from './graphql-errors';
import { internalErrorMessage, logInternalError } from './internal-errors';
import { queryLimitsRule, queryLimitsSetting, subgraphQueryLimits, tokenLimitError, type QueryLimits } from './query-limits';

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
   * and throws otherwise. `/health` answers only which names failed; the errors are logged (see HealthMonitor).
   */
  health: HealthChecks;
  /** Each check's timeout (HEALTH_CHECK_TIMEOUT_MS, default 2 s) and, for tests, the clock the log's pacing reads. */
  healthOptions?: HealthOptions;
  /** The registry `/metrics` serves (the service's own counters live there too); default: a new one. */
  registry?: client.Registry;
  /** When set (METRICS_TOKEN), `/metrics` answers only `Authorization: Bearer <token>`; 401 otherwise. */
  metricsToken?: string;
}

/**
 * Named readiness checks: each resolves when its dependency answers, throws (the cause is logged, not answered)
 * otherwise. `signal` aborts when the check's time is up; a check that can cancel its work (a fetch) passes it on.
 */
export type HealthChecks = Record<string, (signal: AbortSignal) => Promise<unknown>>;

export interface HealthOptions {
  /** How long one check may take before it counts as failed with reason "timeout" (default DEFAULT_HEALTH_CHECK_TIMEOUT_MS). */
  timeoutMs?: number;
  /** While a check keeps failing the same way, how often it is logged at warn again (default 60 s; debug in between). */
  repeatWarnMs?: number;
  /** Milliseconds since the epoch; the wall clock unless a test moves it. Paces the log only. */
  now?: () => number;
}

const DEFAULT_REPEAT_WARN_MS = 60_000;

type CheckOutcome = { ok: true } | { ok: false; reason: 'timeout' | 'error'; err?: unknown; cause: string };

interface FailingState {
  /** What makes two failures "the same": "timeout", or the error's code / message. */
  cause: string;
  since: number;
  lastWarnAt: number;
  /** Failed probes since the last warn line. */
  probes: number;
}

/** How a failure is told apart from another: a timeout, else the error's code (ECONNREFUSED) or message. */
function causeOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}: ${typeof code === 'string' || typeof code === 'number' ? String(code) : error.message}`;
  }
  return String(error);
}

/**
 * Runs the named checks for `/health`, each with its own timeout, and logs their changes of state rather than every
 * probe (the readiness probe asks every 5 s per pod): a check that starts failing, or fails in another way (a
 * timeout, then a refused connection), is logged at warn `health check failed` (`check`, `reason`: "timeout" with
 * `timeoutMs`, or "error" with `err`); while it keeps failing the same way, at debug, and at warn again at most once
 * per `repeatWarnMs` (with `failingForMs`, `failedProbes`); when it answers again, at info `health check recovered`
 * (`failedForMs`).
 */
export class HealthMonitor {
  private readonly failing = new Map<string, FailingState>();
  private readonly timeoutMs: number;
  private readonly repeatWarnMs: number;
  private readonly now: () => number;

  constructor(
    private readonly checks: HealthChecks,
    private readonly logger: Logger,
    options: HealthOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS;
    this.repeatWarnMs = options.repeatWarnMs ?? DEFAULT_REPEAT_WARN_MS;
    this.now = options.now ?? Date.now;
  }

  /** Runs every check at once (each stops at the timeout) and answers the names of those that failed. */
  async run(): Promise<string[]> {
    const names = Object.keys(this.checks);
    const outcomes = await Promise.all(names.map((name) => this.runOne(name)));
    const failed: string[] = [];
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) failed.push(names[i]!);
      this.record(names[i]!, outcome);
    });
    return failed;
  }

  /**
   * One check, given `timeoutMs`. Each probe runs it afresh (no sharing with a run still hanging from an earlier
   * probe: that run may sit on a dead connection forever, while a new one can find the dependency back).
   */
  private runOne(name: string): Promise<CheckOutcome> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckOutcome>((resolve) => {
      timer = setTimeout(() => {
        controller.abort(new Error(`health check ${name} timed out after ${this.timeoutMs} ms`));
        resolve({ ok: false, reason: 'timeout', cause: 'timeout' });
      }, this.timeoutMs);
    });
    const ran = Promise.resolve()
      .then(() => this.checks[name]!(controller.signal))
      .then(
        (): CheckOutcome => ({ ok: true }),
        (err: unknown): CheckOutcome => (controller.signal.aborted ? { ok: false, reason: 'timeout', cause: 'timeout' } : { ok: false, reason: 'error', err, cause: causeOf(err) }),
      );
    return Promise.race([ran, timedOut]).finally(() => clearTimeout(timer));
  }

  private record(check: string, outcome: CheckOutcome): void {
    const now = this.now();
    const state = this.failing.get(check);
    if (outcome.ok) {
      if (state) {
        this.failing.delete(check);
        this.logger.info({ check, failedForMs: now - state.since, lastCause: state.cause }, 'health check recovered');
      }
      return;
    }
    const fields = { check, reason: outcome.reason, ...(outcome.reason === 'timeout' ? { timeoutMs: this.timeoutMs } : { err: outcome.err }) };
    if (!state || state.cause !== outcome.cause) {
      this.failing.set(check, { cause: outcome.cause, since: state?.since ?? now, lastWarnAt: now, probes: 0 });
      this.logger.warn(state ? { ...fields, failingForMs: now - state.since, previousCause: state.cause } : fields, 'health check failed');
      return;
    }
    state.probes += 1;
    if (now - state.lastWarnAt >= this.repeatWarnMs) {
      this.logger.warn({ ...fields, failingForMs: now - state.since, failedProbes: state.probes }, 'health check failed');
      state.lastWarnAt = now;
      state.probes = 0;
    } else {
      this.logger.debug({ ...fields, failingForMs: now - state.since }, 'health check failed');
    }
  }
}

/**
 * Runs the checks (HealthMonitor: each with its timeout, failures logged when they change) and answers `/health`:
 * 200 `{status: "ok", service}`, or 503 `{status: "unavailable", service, failed: [<check names>]}`. A check's
 * error (a driver's message: internal host names, ports, a connection string with its password) never goes into
 * the answer, which the probes and anyone reaching the port read; it is in the log.
 */
export async function answerHealth(res: http.ServerResponse, service: string, monitor: HealthMonitor): Promise<void> {
  const failed = await monitor.run();
  const body = failed.length ? { status: 'unavailable', service, failed } : { status: 'ok', service };
  res.writeHead(failed.length ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export interface SubgraphServerOptions<C extends BaseContext> extends Omit<GraphQLHttpOptions<C>, 'apollo'> {
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<C>;
  /** Whether `__schema` / `__type` are answered (GRAPHQL_INTROSPECTION; `_service { sdl }` always is). */
  introspection: boolean;
  /** The gateway's query limits (GATEWAY_MAX_QUERY_*, default: their defaults), applied doubled: subgraphQueryLimits. */
  queryLimits?: QueryLimits;
}

export interface SubgraphServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 5 * 1024 * 1024;

/** A request the HTTP edge refuses as the caller's (4xx): answered with its message, not as an internal error. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpRefusal';
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpRefusal(413, 'request body too large');
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

/**
 * Names the request in its context (`operation`: the root fields, `recordPayment`), for what a
 * resolver counts or logs by operation (transaction retries); a gateway's generated operation name
 * (`Q__invoicing__0`) would say nothing.
 */
const operationNaming: ApolloServerPlugin<BaseContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, contextValue }) {
        if (!operation || !contextValue || typeof contextValue !== 'object') return;
        const fields = operation.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : []));
        (contextValue as { operation?: string }).operation = fields.join(',') || operation.operation;
      },
    };
  },
};

export function startSubgraphServer<C extends BaseContext>(options: SubgraphServerOptions<C>): Promise<SubgraphServer> {
  const formatError = createFormatError(options.logger);
  // A subgraph's port takes callers without the gateway's signed caller (as ANONYMOUS): the same bombs the gateway
  // refuses would reach the parser and validation here.
  const limits = subgraphQueryLimits(options.queryLimits ?? queryLimitsSetting({}));
  return startGraphQLHttpServer({
    ...options,
    apollo: (httpServer) =>
      new ApolloServer<C>({
        schema: buildSubgraphSchema({ typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> }),
        formatError: (formatted, error) => formatError(tokenLimitError(formatted, limits, 'subgraph'), error),
        // Federated traces (ftv1) for the gateway; listed explicitly so Apollo does not log that it added them.
        plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginInlineTrace(), operationNaming],
        introspection: options.introspection,
        parseOptions: { maxTokens: limits.maxTokens },
        validationRules: [queryLimitsRule(limits, 'subgraph')],
        includeStacktraceInErrorResponses: false,
        // The service stops its own parts in order on SIGINT/SIGTERM (runServiceMain).
        stopOnTerminationSignals: false,
      }),
  });
}

/**
 * A request the HTTP edge failed outside GraphQL (a `/metrics` gauge's query, a body that broke off): an HttpRefusal
 * is the caller's (413) and answered with its message; anything else is logged at error with a reference
 * (`request failed`, method and path) and answered 500 `internal error (reference <uuid>)` with `extensions.code`
 * INTERNAL_SERVER_ERROR and `extensions.reference`, as GraphQL's unexpected failures are, never with its own text.
 * An answer already under way is cut off (its end would be read as complete).
 */
export function answerFailedRequest(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, logger: Logger): void {
  if (error instanceof HttpRefusal) {
    logger.info({ status: error.status, method: req.method, path: pathOf(req) }, error.message);
    if (res.headersSent) res.destroy();
    else res.writeHead(error.status, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: error.message }] }));
    return;
  }
  const reference = logInternalError(logger, error, 'request failed', { method: req.method, path: pathOf(req) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res
    .writeHead(500, { 'content-type': 'application/json' })
    .end(JSON.stringify({ errors: [{ message: internalErrorMessage(reference), extensions: { code: 'INTERNAL_SERVER_ERROR', reference } }] }));
}

/** The request's path without its query (which may carry a caller's values). */
function pathOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://localhost').pathname;
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

  const health = new HealthMonitor(options.health, options.logger, options.healthOptions);
  const httpServer = http.createServer();
  const apollo = options.apollo(httpServer);
  await apollo.start();

  httpServer.on('request', (req, res) => {
    void handle(req, res).catch((error: unknown) => answerFailedRequest(req, res, error, options.logger));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      await answerHealth(res, options.service, health);
      return;
    }
    if (url.pathname === '/metrics') {
      if (!metricsAuthorized(req, options.metricsToken)) {
        refuseMetrics(res);
        return;
      }
      // Collected before the head is written: a gauge that fails (its database query) is a 500, not a 200 with an error body.
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
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
