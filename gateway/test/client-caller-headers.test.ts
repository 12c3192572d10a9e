// A client cannot choose the caller the gateway forwards: caller headers it sends itself (an ADMIN,
// signed or not) are not passed on; each subgraph request carries the caller of the client's token
// (anonymous without one), signed by the gateway. A recording HTTP server stands in for every subgraph.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_HEADER, encodeCaller, SERVICES, type Caller } from '@ledgerline/contracts';
import { callerFromHeaders, callerHeaders, DEV_INTERNAL_SECRET, signToken, type SubgraphServer } from '@ledgerline/platform';
import { startGateway } from '../src/server';

let subgraph: http.Server;
let gw: SubgraphServer;
const received: http.IncomingHttpHeaders[] = [];
const ADMIN: Caller = { role: 'ADMIN', subject: 'mallory', scopes: ['*'] };

beforeAll(async () => {
  subgraph = http.createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { offers: [] } })));
  });
  await new Promise<void>((resolve) => subgraph.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(subgraph.address() as AddressInfo).port}/graphql`;
  gw = await startGateway({ env: { LOG_LEVEL: 'warn', GATEWAY_PORT: '0', ...Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, url])) } });
});
afterAll(async () => {
  await gw?.close();
  await new Promise((resolve) => subgraph.close(resolve));
});

async function forwarded(headers: Record<string, string>): Promise<Caller> {
  received.length = 0;
  const r = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ offers { code } }' }) });
  expect(r.status).toBe(200);
  expect(received).toHaveLength(1);
  return callerFromHeaders((name) => received[0]![name] as string | undefined, DEV_INTERNAL_SECRET, new Date());
}

describe('caller headers a client sends the gateway', () => {
  it('are not forwarded: the subgraph sees the caller of the token, or an anonymous one', async () => {
    const validlySigned = callerHeaders(ADMIN, DEV_INTERNAL_SECRET);
    const unsigned = { [CALLER_HEADER]: encodeCaller(ADMIN) };
    const customer = await signToken({ role: 'CUSTOMER', subject: 'rosa', customerId: 'cus_rosa' });
    expect(await forwarded(unsigned)).toMatchObject({ role: 'ANONYMOUS' });
    expect(await forwarded(validlySigned)).toMatchObject({ role: 'ANONYMOUS' });
    expect(await forwarded({ ...validlySigned, authorization: `Bearer ${customer}` })).toMatchObject({ role: 'CUSTOMER', subject: 'rosa', customerId: 'cus_rosa' });
  });
});
