import fs from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Caller } from '@ledgerline/contracts';
import { callerHeaders, createLogger, DEFAULT_PORTS, DEV_INTERNAL_SECRET, healthCheckTimeoutSetting, internalErrorMessage, introspectionSetting, logInternalError, metricsTokenSetting, parsePort, queryLimitsRule, queryLimitsSetting, secretSetting, startGraphQLHttpServer, tokenLimitError, withRefusedInputField, type Logger, type SubgraphServer } from '@ledgerline/platform';
import { AuthenticationError, callerFromAuthorization, DEV_JWT_SECRET } from './auth';
import { SUPERGRAPH_PATH } from './compose';
import { subgraphUrl } from './subgraphs';
import { SERVICES } from '@ledgerline/contracts';

interface GatewayContext {
  caller: Caller;
}

/** A subgraph's HTTP 400 refusal of the caller's input: `process` answers its errors, all of them. */
class InputRefused extends GraphQLError {
  constructor(readonly refusals: GraphQLError[]) {
    super(refusals[0]!.message, { extensions: refusals[0]!.extensions });
  }
}

/** Forwards the verified caller to every subgraph, signed so a subgraph can trust it. */
class CallerForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    url: string,
    private readonly internalSecret: string,
    private readonly service: string,
    private readonly logger: Logger,
  ) {
    super({ url });
  }

  /**
   * A subgraph that could not answer (connection refused, a reply that is not GraphQL's JSON, an HTTP error other
   * than the input refusal below) is told to the client by its service name only. Apollo's own error carried the
   * subgraph's address in its message and, for an HTTP error, the subgraph's raw answer (`extensions.response`:
   * url, status, body), to every caller; those go to the log, at error with a fresh `reference` that the answer
   * carries too (`extensions.reference`, as an INTERNAL domain error's): a client's report finds the line.
   */
  private unavailable(details: { err?: unknown; status?: number; body?: unknown }): GraphQLError {
    const { err, ...rest } = details;
    const reference = logInternalError(this.logger, err, 'subgraph request failed', { service: this.service, url: this.url, ...rest });
    return new GraphQLError(`The ${this.service} service could not answer; try again later`, { extensions: { code: 'INTERNAL_SERVER_ERROR', serviceName: this.service, reference } });
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): ReturnType<RemoteGraphQLDataSource<GatewayContext>['process']> {
    try {
      return await super.process(options);
    } catch (error) {
      // Answered as the subgraph's errors, so each reaches the client (a thrown error is one).
      if (error instanceof InputRefused) return { errors: error.refusals };
      // errorFromResponse's other answers are already what the client may read.
      if (error instanceof GraphQLError) throw error;
      throw this.unavailable({ err: error });
    }
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const caller = (context as Partial<GatewayContext>).caller;
    if (!caller || !request.http) return;
    // Signed per subgraph request, with its issued-at: the signature goes stale after LEDGERLINE_CALLER_MAX_AGE_SECONDS.
    for (const [name, value] of Object.entries(callerHeaders(caller, this.internalSecret))) request.http.headers.set(name, value);
  }

  /**
   * The gateway cannot check custom scalars (Decimal, DateTime, CurrencyCode), so a bad value is
   * first refused by the subgraph with HTTP 400. Pass that on as the caller's input errors, every one
   * (two bad variables are two errors), each with the subgraph's message and the field it names and
   * nothing else of it, instead of letting it look like a server failure.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]): Promise<GraphQLError> {
    const error = await super.errorFromResponse(response);
    const body = (error.extensions.response as { body?: { errors?: { message: string; extensions?: { code?: string; field?: unknown } }[] } } | undefined)?.body;
    const errors = body?.errors ?? [];
    if (response.status === 400 && errors.length > 0 && errors.every((e) => ['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'].includes(e.extensions?.code ?? ''))) {
      return new InputRefused(
        errors.map((e) => {
          const field = e.extensions?.field;
          return new GraphQLError(e.message, { extensions: { code: 'BAD_USER_INPUT', ...(typeof field === 'string' ? { field } : {}) } });
        }),
      );
    }
    return this.unavailable({ status: response.status, body: (error.extensions.response as { body?: unknown } | undefined)?.body });
  }
}

/** Codes of an answer that is nobody's input error: what failed is in the log, under a reference. */
const INTERNAL_CODES = new Set<unknown>(['INTERNAL_SERVER_ERROR', 'DOWNSTREAM_SERVICE_ERROR', undefined]);

/**
 * An internal error the gateway answers without a reference is one it made itself of a subgraph's reply it could not
 * use (a TypeError reading `errors` that is not a list, graphql-js quoting a value of the wrong type) or a subgraph's
 * error without a code (DOWNSTREAM_SERVICE_ERROR: not one of ours, which all have one): its text is logged at error
 * with a fresh reference and answered `internal error (reference <uuid>)`, `extensions.reference`, the serviceName
 * kept. One that has a reference (a subgraph's own, "could not answer") and coded errors go on as they are.
 */
export function referencedInternalError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const extensions = formatted.extensions ?? {};
  if (!INTERNAL_CODES.has(extensions.code) || typeof extensions.reference === 'string') return formatted;
  const serviceName = typeof extensions.serviceName === 'string' ? extensions.serviceName : undefined;
  const cause = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  const reference = logInternalError(logger, cause, 'gateway answer failed', { message: formatted.message, path: formatted.path, code: extensions.code, serviceName });
  return { message: internalErrorMessage(reference), ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: 'INTERNAL_SERVER_ERROR', ...(serviceName ? { serviceName } : {}), reference } };
}

export interface GatewayOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export async function startGateway(options: GatewayOptions = {}): Promise<SubgraphServer> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger('gateway', env.LOG_LEVEL);
  const jwtSecret = secretSetting(env, 'JWT_SECRET', DEV_JWT_SECRET);
  const internalSecret = secretSetting(env, 'LEDGERLINE_INTERNAL_SECRET', DEV_INTERNAL_SECRET);
  const metricsToken = metricsTokenSetting(env);
  const introspection = introspectionSetting(env);
  const healthCheckTimeoutMs = healthCheckTimeoutSetting(env);
  const queryLimits = queryLimitsSetting(env);
  const port = parsePort('GATEWAY_PORT', env.GATEWAY_PORT, DEFAULT_PORTS.gateway!);
  const gateway = new ApolloGateway({
    supergraphSdl: fs.readFileSync(SUPERGRAPH_PATH, 'utf8'),
    buildService: ({ name }) => new CallerForwardingDataSource(subgraphUrl(name, env), internalSecret, name, logger),
  });
  const server = await startGraphQLHttpServer<GatewayContext>({
    service: 'gateway',
    host: env.HOST ?? '127.0.0.1',
    port,
    portSetting: 'GATEWAY_PORT',
    logger,
    metricsToken,
    healthOptions: { timeoutMs: healthCheckTimeoutMs },
    // Off in production unless GRAPHQL_INTROSPECTION=on. The supergraph is composed from the SDL files
    // (`npm run compose`), never by introspecting subgraphs, so subgraphs may turn it off too.
    apollo: (httpServer) =>
      new ApolloServer<GatewayContext>({
        gateway,
        plugins: [ApolloServerPluginDrainHttpServer({ httpServer })],
        introspection,
        // Token, depth, field and alias limits (GATEWAY_MAX_QUERY_*): an operation over one is refused (HTTP 400
        // GRAPHQL_VALIDATION_FAILED) before any subgraph is asked; one over the tokens before it is parsed whole.
        parseOptions: { maxTokens: queryLimits.maxTokens },
        validationRules: [queryLimitsRule(queryLimits)],
        // The gateway refuses built-in scalars and enums itself; those name their field as a subgraph's refusals do.
        formatError: (formatted, error) => referencedInternalError(withRefusedInputField(tokenLimitError(formatted, queryLimits), error), error, logger),
        includeStacktraceInErrorResponses: false,
        stopOnTerminationSignals: false,
      }),
    context: async (req) => {
      try {
        return { caller: await callerFromAuthorization(req.headers.authorization, jwtSecret) };
      } catch (error) {
        if (error instanceof AuthenticationError) throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
        throw error;
      }
    },
    // One check per subgraph, named after it: `/health` answers only which are down; why (the subgraph's
    // answer, a refused connection to its address) is logged.
    health: Object.fromEntries(
      SERVICES.map((name) => [
        name,
        // `signal` aborts after HEALTH_CHECK_TIMEOUT_MS (the check then counts as failed, reason "timeout").
        async (signal: AbortSignal) => {
          const url = subgraphUrl(name, env).replace(/\/graphql$/, '/health');
          const response = await fetch(url, { signal }).catch((error: Error) => {
            throw new Error(`${url}: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`, { cause: error });
          });
          const body = (await response.text().catch(() => '')).slice(0, 300);
          if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}: ${body}`);
        },
      ]),
    ),
  });
  logger.info({ url: server.url }, 'gateway ready');
  return server;
}
