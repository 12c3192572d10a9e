import http from 'node:http';
import client from 'prom-client';
import { listen, metricsAuthorized, refuseMetrics, type Logger } from '@ledgerline/platform';
import { internalErrorReply, type Reply } from './routes';

export interface HttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A small JSON server over node:http: the routes, `/health` (readiness: `{status, service}` only, the
 * cause of a failure logged) and `/metrics` (Prometheus), like the subgraphs' server without GraphQL.
 */
export async function startHttpServer(o: {
  service: string;
  host: string;
  port: number;
  portSetting: string;
  logger: Logger;
  registry: client.Registry;
  /** When set (METRICS_TOKEN), `/metrics` answers only `Authorization: Bearer <token>`; 401 otherwise. */
  metricsToken?: string;
  routes: (req: http.IncomingMessage, url: URL) => Promise<Reply | null>;
  /** Readiness: resolves when the dependencies answer, throws (the cause is logged, not answered) otherwise. */
  health: () => Promise<void>;
}): Promise<HttpServer> {
  const requests = new client.Counter({
    name: 'ledgerline_events_hub_requests_total',
    help: 'Hub API requests by method and status',
    labelNames: ['method', 'status'],
    registers: [o.registry],
  });
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      // Answered with a reference its log line has, never the failure's text; an answer already under way is cut off.
      const reply = internalErrorReply(o.logger, error, 'request failed', { method: req.method, path: new URL(req.url ?? '/', 'http://localhost').pathname });
      if (res.headersSent) res.destroy();
      else res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Partners reach this port: up or down and the service's name, nothing more. Why it is down (a driver's
    // message, internal host names) goes to the log only.
    if (url.pathname === '/health') {
      try {
        await o.health();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', service: o.service }));
      } catch (error) {
        o.logger.warn({ err: error }, 'health check failed');
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'unavailable', service: o.service }));
      }
      return;
    }
    if (url.pathname === '/metrics') {
      if (!metricsAuthorized(req, o.metricsToken)) {
        refuseMetrics(res);
        return;
      }
      // Collected before the head is written: a gauge whose query fails is a 500, not a 200 with an error body.
      const text = await o.registry.metrics();
      res.writeHead(200, { 'content-type': o.registry.contentType }).end(text);
      return;
    }
    const reply = (await o.routes(req, url)) ?? { status: 404, body: { code: 'NOT_FOUND', message: `${url.pathname} is not served here` } };
    requests.inc({ method: req.method ?? 'GET', status: String(reply.status) });
    res.writeHead(reply.status, { ...(reply.body === undefined ? {} : { 'content-type': 'application/json' }), ...reply.headers });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  }
  const port = await listen(server, o.host, o.port, o.portSetting);
  return {
    url: `http://${o.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
