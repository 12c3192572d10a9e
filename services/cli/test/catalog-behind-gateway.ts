/**
 * The real catalog service (PostgreSQL) behind a stand-in gateway, and the CLI run as users run it
 * (services/cli/bin/ledgerline.mjs) with GATEWAY_URL pointing there. The stand-in verifies the CLI's
 * token and forwards the request with the verified caller, as the gateway does; `requests` counts
 * what reached it (a refusal made before anything is sent leaves it unchanged).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { callerFromAuthorization, startServiceForTest, type ManualClock, type TestService } from '@ledgerline/platform';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');

export interface CatalogBehindGateway {
  svc: TestService;
  /** Requests the stand-in gateway received so far. */
  requests(): number;
  cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function startCatalogBehindGateway(clock: ManualClock): Promise<CatalogBehindGateway> {
  const { catalogService } = await import('../../catalog/src/service');
  const svc = await startServiceForTest(catalogService, { clock });
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      requests += 1;
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
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
  // The CLI signs its own ADMIN token (development secret, or JWT_SECRET as the stand-in checks).
  const { LEDGERLINE_TOKEN: _ignored, ...cliEnv } = process.env;
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'services/cli/bin/ledgerline.mjs'), ...args], { cwd: repoRoot, env: { ...cliEnv, GATEWAY_URL: url } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  return {
    svc,
    requests: () => requests,
    cli,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await svc.close();
    },
  };
}
