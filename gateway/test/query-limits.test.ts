// How big one operation may be at the gateway: a document of 1.5 million tokens (at the parser), a 1,000-alias query,
// a deeply nested one and a fragment bomb are refused with HTTP 400 GRAPHQL_VALIDATION_FAILED naming the limit, before any subgraph is asked; the README's
// deepest example goes through. A recording HTTP server stands in for every subgraph (the gateway plans from the
// checked-in supergraph and never introspects them).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { SERVICES } from '@ledgerline/contracts';
import { ConfigError, type SubgraphServer } from '@ledgerline/platform';
import { DEFAULT_MAX_QUERY_ALIASES, DEFAULT_MAX_QUERY_DEPTH, DEFAULT_MAX_QUERY_FIELDS, DEFAULT_MAX_QUERY_TOKENS, measureSelections } from '@ledgerline/platform';
import { startGateway } from '../src/server';

let subgraph: http.Server;
let subgraphUrl: string;
/** Bodies of the requests the stand-in subgraph got. */
const received: string[] = [];
const gateways: SubgraphServer[] = [];

beforeAll(async () => {
  subgraph = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: null }));
    });
  });
  await new Promise<void>((resolve) => subgraph.listen(0, '127.0.0.1', resolve));
  subgraphUrl = `http://127.0.0.1:${(subgraph.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await new Promise((resolve) => subgraph.close(resolve));
});

async function gateway(env: NodeJS.ProcessEnv = {}): Promise<SubgraphServer> {
  const urls = Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_URL`, subgraphUrl]));
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', GATEWAY_PORT: '0', ...urls, ...env } });
  gateways.push(gw);
  return gw;
}

interface Answer {
  status: number;
  errors?: { message: string; extensions?: { code?: string } }[];
}
async function post(gw: SubgraphServer, query: string): Promise<Answer> {
  const response = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as Omit<Answer, 'status'>;
  return { status: response.status, ...body };
}

/** Refused before planning: HTTP 400, GRAPHQL_VALIDATION_FAILED, the message naming `setting`, no subgraph asked. */
async function expectRefused(gw: SubgraphServer, query: string, setting: RegExp): Promise<void> {
  received.length = 0;
  const answer = await post(gw, query);
  expect(answer.status).toBe(400);
  expect(answer.errors).toHaveLength(1);
  expect(answer.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(answer.errors![0]!.message).toMatch(setting);
  expect(received).toEqual([]);
}

/** Went past validation to the subgraphs (the stand-in's empty answer may then be an execution error). */
async function expectAccepted(gw: SubgraphServer, query: string): Promise<void> {
  received.length = 0;
  const answer = await post(gw, query);
  expect(answer.errors?.map((e) => e.extensions?.code) ?? []).not.toContain('GRAPHQL_VALIDATION_FAILED');
  expect(answer.status).toBe(200);
  expect(received.length).toBeGreaterThan(0);
}

/** `{ billingAccount(id: "acc_1") { parentAccount { … { id } } } }`: `depth` fields deep. */
const nested = (depth: number) => `{ billingAccount(id: "acc_1") { ${'parentAccount { '.repeat(depth - 2)}id${' }'.repeat(depth - 2)} } }`;
const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: billingAccount(id: "acc_${i}") { id }`).join(' ')} }`;

describe('gateway query limits (defaults)', () => {
  it('are the documented ones', () => {
    expect([DEFAULT_MAX_QUERY_DEPTH, DEFAULT_MAX_QUERY_FIELDS, DEFAULT_MAX_QUERY_ALIASES, DEFAULT_MAX_QUERY_TOKENS]).toEqual([15, 1000, 50, 15000]);
  });

  it('refuse a 4.5 MB document of 1.5 million tokens at the parser, quickly, asking no subgraph', async () => {
    const gw = await gateway();
    // Parsed whole, this takes seconds of the gateway's CPU (and its field count is only checked after).
    const huge = `{ billingAccount(id: "acc_1") { ${'id '.repeat(1_500_000)}} }`;
    const started = Date.now();
    await expectRefused(gw, huge, /^The document has more tokens \(names, values, punctuation\) than the maximum of 15000; it was not parsed \(GATEWAY_MAX_QUERY_TOKENS\)$/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('refuse a query with 1,000 aliases of one field, asking no subgraph', async () => {
    const gw = await gateway();
    // 11,000 tokens: 2,000 would be refused by the token limit first.
    await expectRefused(gw, aliases(1000), /more aliased fields than the maximum of 50 \(GATEWAY_MAX_QUERY_ALIASES\)/);
    await expectAccepted(gw, aliases(50));
  });

  it('refuse a query nested deeper than 15 fields, take one 15 deep', async () => {
    const gw = await gateway();
    expect(measureSelections((parse(nested(15)).definitions[0] as OperationDefinitionNode).selectionSet, () => undefined).depth).toBe(15);
    await expectRefused(gw, nested(16), /deeper than the maximum query depth of 15 fields \(GATEWAY_MAX_QUERY_DEPTH\)/);
    await expectRefused(gw, nested(200), /GATEWAY_MAX_QUERY_DEPTH/);
    await expectAccepted(gw, nested(15));
  });

  it('refuse a fragment bomb (fragments spread into each other twice: 2^20 fields), counting fragments where spread', async () => {
    const gw = await gateway();
    const levels = 20;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on BillingAccount { ...F${i + 1} ...F${i + 1} }`).join('\n');
    const bomb = `{ billingAccount(id: "acc_1") { ...F0 } }\n${fragments}\nfragment F${levels} on BillingAccount { id name }`;
    const started = Date.now();
    await expectRefused(gw, bomb, /selects more fields than the maximum of 1000, each fragment counted where it is spread \(GATEWAY_MAX_QUERY_FIELDS\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('take the README’s deepest example', async () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```graphql\n([\s\S]*?)^```/gm)].map((m) => parse(m[1]!));
    const candidates = blocks.flatMap((document) => {
      const fragments = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
      return document.definitions
        .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
        .map((op) => ({
          source: [op, ...fragments].map((d) => document.loc!.source.body.slice(d.loc!.start, d.loc!.end)).join('\n'),
          depth: measureSelections(op.selectionSet, (name) => fragments.find((f) => f.name.value === name)).depth,
          query: op.operation === 'query',
        }));
    });
    // Queries only: a mutation's stand-in answer would not matter, but its idempotency keys look like real calls.
    const deepest = candidates.filter((c) => c.query).sort((a, b) => b.depth - a.depth)[0]!;
    expect(deepest.depth).toBeGreaterThanOrEqual(6);
    await expectAccepted(await gateway(), deepest.source);
  });
});

describe('gateway query limits (configured)', () => {
  it('GATEWAY_MAX_QUERY_TOKENS sets the token limit', async () => {
    const gw = await gateway({ GATEWAY_MAX_QUERY_TOKENS: '20' });
    // `{ billingAccount ( id : "acc_1" ) { id } }`: 11 tokens, and each `name` one more.
    const tokens = (n: number) => `{ billingAccount(id: "acc_1") { id ${'name '.repeat(n - 11)}} }`;
    await expectAccepted(gw, tokens(20));
    await expectRefused(gw, tokens(21), /than the maximum of 20; it was not parsed \(GATEWAY_MAX_QUERY_TOKENS\)/);
  });

  it('GATEWAY_MAX_QUERY_DEPTH, _FIELDS and _ALIASES set them', async () => {
    const gw = await gateway({ GATEWAY_MAX_QUERY_DEPTH: '4', GATEWAY_MAX_QUERY_FIELDS: '20', GATEWAY_MAX_QUERY_ALIASES: '3' });
    await expectAccepted(gw, nested(4));
    await expectRefused(gw, nested(5), /maximum query depth of 4 fields \(GATEWAY_MAX_QUERY_DEPTH\)/);
    await expectAccepted(gw, aliases(3));
    await expectRefused(gw, aliases(4), /maximum of 3 \(GATEWAY_MAX_QUERY_ALIASES\)/);
    const fields = (n: number) => `{ billingAccount(id: "acc_1") { id name ${Array.from({ length: n - 3 }, () => 'currency').join(' ')} } }`;
    await expectAccepted(gw, fields(20));
    await expectRefused(gw, fields(21), /maximum of 20, each fragment counted where it is spread \(GATEWAY_MAX_QUERY_FIELDS\)/);
  });

  it('anything but a positive whole number stops start-up naming the setting', async () => {
    for (const [setting, value] of [
      ['GATEWAY_MAX_QUERY_DEPTH', 'ten'],
      ['GATEWAY_MAX_QUERY_FIELDS', '0'],
      ['GATEWAY_MAX_QUERY_ALIASES', '-1'],
      ['GATEWAY_MAX_QUERY_TOKENS', '1e4'],
    ] as const) {
      const error = await gateway({ [setting]: value }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(`${setting}: "${value}" is not a positive whole number`);
    }
  });
});
