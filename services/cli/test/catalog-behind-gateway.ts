/**
 * The real catalog service (PostgreSQL) behind a stand-in gateway, and the CLI run as users run it
 * (services/cli/bin/ledgerline.mjs) with GATEWAY_URL pointing there. The stand-in verifies the CLI's
 * token and forwards the request with the verified caller, as the gateway does. Each run of the CLI
 * gets its own GATEWAY_URL path, so `sent` is what that run sent (a refusal made before anything is
 * sent: 0), also while other runs go on at the same time (cli-process.ts).
 */
import http from 'node:http';
import { callerFromAuthorization, startServiceForTest, type ManualClock, type TestService } from '@ledgerline/platform';
import { repoRoot, runCli, type CliRun } from './cli-process';

export { repoRoot };

export interface CatalogBehindGateway {
  svc: TestService;
  /** The run's output, and `sent`: the requests of this run that reached the stand-in gateway. */
  cli(...args: string[]): Promise<CliRun & { sent: number }>;
  close(): Promise<void>;
}

export async function startCatalogBehindGateway(clock: ManualClock): Promise<CatalogBehindGateway> {
  const { catalogService } = await import('../../catalog/src/service');
  const svc = await startServiceForTest(catalogService, { clock });
  /** Requests received, by URL path (one path per CLI run), counted as they arrive. */
  const requests = new Map<string, number>();
  const server = http.createServer((req, res) => {
    requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      try {
        const { query, variables } = JSON.parse(body);
        const caller = await callerFromAuthorization(req.headers.authorization, process.env.JWT_SECRET);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await svc.request(query, variables, caller)));
      } catch (error) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: `stand-in gateway: ${(error as Error).message}` }] }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // The CLI signs its own ADMIN token (development secret, or JWT_SECRET as the stand-in checks).
  const { LEDGERLINE_TOKEN: _ignored, ...cliEnv } = process.env;
  let runs = 0;
  const cli = async (...args: string[]) => {
    const runPath = `/graphql/run-${++runs}`;
    const r = await runCli(args, { ...cliEnv, GATEWAY_URL: `${base}${runPath}` });
    // The process has ended: whatever it sent has arrived.
    return { ...r, sent: requests.get(runPath) ?? 0 };
  };
  return {
    svc,
    cli,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await svc.close();
    },
  };
}
