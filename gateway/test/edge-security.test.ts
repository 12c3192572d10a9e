// The gateway's HTTP edge: /metrics behind METRICS_TOKEN, introspection off in production unless
// GRAPHQL_INTROSPECTION=on, and the caller it forwards signed with the instant it was issued. A
// recording HTTP server stands in for every subgraph (the gateway plans from the checked-in
// supergraph and never introspects them).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_ISSUED_AT_HEADER, SERVICES } from '@ledgerline/contracts';
import { callerFromHeaders, ConfigError, DEV_INTERNAL_SECRET, signToken, type SubgraphServer } from '@ledgerline/platform';
import { startGateway } from '../src/server';

const SECRET = 'q0V3l7mJ2yR9sT4uW8xZ1aB5cD6eF0gH';
const JWT = 'j7Wq2ZxP9vR4tY6uI1oA3sD5fG8hJ0kL';
const TOKEN = 'm3tr1cs-T0ken-9f2d7c4b1a8e6f3d0c5b';
const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: JWT, LEDGERLINE_INTERNAL_SECRET: SECRET, METRICS_TOKEN: TOKEN };
const INTROSPECTION = '{ __schema { queryType { name } } }';

let subgraph: http.Server;
let subgraphUrl: string;
/** Headers of every request the stand-in subgraph got. */
const received: http.IncomingHttpHeaders[] = [];
const gateways: SubgraphServer[] = [];

beforeAll(async () => {
  subgraph = http.createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { offers: [] } })));
  });
  await new Promise<void>((resolve) => subgraph.listen(0, '127.0.0.1', resolve));
  subgraphUrl = `http://127.0.0.1:${(subgraph.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await new Promise((resolve) => subgraph.close(resolve));
});

async function gateway(env: NodeJS.ProcessEnv): Promise<SubgraphServer> {
  const urls = Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, subgraphUrl]));
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', GATEWAY_PORT: '0', ...urls, ...env } });
  gateways.push(gw);
  return gw;
}
const post = (gw: SubgraphServer, query: string, headers: Record<string, string> = {}) =>
  fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) }).then(
    async (r) => (await r.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] },
  );
const metrics = (gw: SubgraphServer, authorization?: string) =>
  fetch(gw.url.replace(/\/graphql$/, '/metrics'), { headers: authorization ? { authorization } : {} });

describe('gateway /metrics', () => {
  it('with METRICS_TOKEN: 401 without it or with a wrong one, 200 with it', async () => {
    const gw = await gateway({ METRICS_TOKEN: TOKEN });
    expect((await metrics(gw)).status).toBe(401);
    expect((await metrics(gw, 'Bearer not-the-token')).status).toBe(401);
    const ok = await metrics(gw, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/\{service="gateway"\}/);
  });

  it('production refuses to start without METRICS_TOKEN', async () => {
    const error = await gateway({ ...PRODUCTION, METRICS_TOKEN: '' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^METRICS_TOKEN: must be set in production/);
  });
});

describe('gateway introspection', () => {
  it('is answered in development', async () => {
    const gw = await gateway({});
    expect((await post(gw, INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('is refused in production, answered there with GRAPHQL_INTROSPECTION=on', async () => {
    const gw = await gateway(PRODUCTION);
    const refused = await post(gw, INTROSPECTION);
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(refused.errors?.[0]?.message).toMatch(/introspection/i);
    const on = await gateway({ ...PRODUCTION, GRAPHQL_INTROSPECTION: 'on' });
    expect((await post(on, INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('the caller the gateway forwards', () => {
  it('is signed at each request with its issued-at, and verifies as fresh', async () => {
    const gw = await gateway({});
    const token = await signToken({ role: 'AGENT', subject: 'agent.bob@operator.example' });
    received.length = 0;
    const before = Date.now();
    expect((await post(gw, '{ offers { code } }', { authorization: `Bearer ${token}` })).errors).toBeUndefined();
    await post(gw, '{ offers { code } }', { authorization: `Bearer ${token}` });
    expect(received).toHaveLength(2);
    const issued = received.map((h) => Number(h[CALLER_ISSUED_AT_HEADER]));
    for (const at of issued) expect(at).toBeGreaterThanOrEqual(before);
    const caller = callerFromHeaders((name) => received[0]![name] as string | undefined, DEV_INTERNAL_SECRET, new Date());
    expect(caller).toMatchObject({ role: 'AGENT', subject: 'agent.bob@operator.example' });
    // The same headers a day later are refused.
    expect(() => callerFromHeaders((name) => received[0]![name] as string | undefined, DEV_INTERNAL_SECRET, new Date(Date.now() + 86_400_000))).toThrow(
      /older than 300 s/,
    );
  });
});
