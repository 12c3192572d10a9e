// The gateway's `/health` (public, like its GraphQL): up or down and which subgraphs are down, by name only. What a
// subgraph answered or why it could not be reached (its address, its own answer) goes to the gateway's log at warn.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICES } from '@ledgerline/contracts';
import { refusedPort, type SubgraphServer } from '@ledgerline/platform';
import { startGateway } from '../src/server';

/** What an older subgraph answered when its database was down: the driver's message, password included. */
const LEAKY = JSON.stringify({ status: 'unavailable', service: 'usage', error: 'connect failed: postgres://ledgerline:pW-9f3Kq7Zr2Lx8s@db-primary.billing.internal:5432/ledgerline' });

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function standIn(status: number, body: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

describe('gateway /health', () => {
  it('503 naming the subgraphs that are down (one answering 503, one refusing connections), no address or subgraph answer; the causes logged', async () => {
    const healthy = await standIn(200, JSON.stringify({ status: 'ok', service: 'catalog' }));
    const usage = await standIn(503, LEAKY);
    // Not a port taken from a closed server: listen(0) can hand that out again, to a stand-in of this test (refusedPort).
    const invoicingPort = await refusedPort();
    const urls = Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, healthy]));
    const lines: string[] = [];
    const gw: SubgraphServer = await startGateway({
      env: { GATEWAY_PORT: '0', ...urls, USAGE_URL: usage, INVOICING_URL: `http://127.0.0.1:${invoicingPort}/graphql` },
      logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    });
    closers.push(() => gw.close());

    const down = await fetch(gw.url.replace(/\/graphql$/, '/health'));
    expect(down.status).toBe(503);
    const text = await down.text();
    expect(JSON.parse(text)).toEqual({ status: 'unavailable', service: 'gateway', failed: ['usage', 'invoicing'] });
    expect(text).not.toContain('pW-9f3Kq7Zr2Lx8s');
    expect(text).not.toContain(String(invoicingPort));

    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'health check failed');
    expect(warned.every((l) => l.level === 40)).toBe(true);
    expect(warned.map((l) => l.check).sort()).toEqual(['invoicing', 'usage']);
    const usageLine = warned.find((l) => l.check === 'usage');
    expect(usageLine.err.message).toContain('HTTP 503');
    const invoicingLine = warned.find((l) => l.check === 'invoicing');
    expect(JSON.stringify(invoicingLine.err)).toContain(`127.0.0.1:${invoicingPort}`);
  });

  it('a subgraph that accepts the connection but never answers: 503 naming it after HEALTH_CHECK_TIMEOUT_MS, logged once with reason "timeout"', async () => {
    const healthy = await standIn(200, JSON.stringify({ status: 'ok', service: 'catalog' }));
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => (hanging.closeAllConnections(), hanging.close(resolve))));
    const urls = Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, healthy]));
    const lines: string[] = [];
    const gw = await startGateway({
      env: { GATEWAY_PORT: '0', HEALTH_CHECK_TIMEOUT_MS: '400', ...urls, WALLETS_URL: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/graphql` },
      logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    });
    closers.push(() => gw.close());
    for (let probe = 0; probe < 3; probe++) {
      const started = performance.now();
      const down = await fetch(gw.url.replace(/\/graphql$/, '/health'));
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(await down.json()).toEqual({ status: 'unavailable', service: 'gateway', failed: ['wallets'] });
    }
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'health check failed' && l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ check: 'wallets', reason: 'timeout', timeoutMs: 400 });
  });

  it('every subgraph up: 200 {status, service}', async () => {
    const healthy = await standIn(200, JSON.stringify({ status: 'ok', service: 'catalog' }));
    const urls = Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, healthy]));
    const gw = await startGateway({ env: { GATEWAY_PORT: '0', LOG_LEVEL: 'warn', ...urls } });
    closers.push(() => gw.close());
    const up = await fetch(gw.url.replace(/\/graphql$/, '/health'));
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ok', service: 'gateway' });
  });
});
