// A subgraph's own limits on how big one operation may be. Subgraphs listen on their own ports and take a caller
// without the gateway's signed headers as ANONYMOUS, so whoever reaches a port could send what the gateway refuses: a
// document of millions of tokens, thousands of aliases, nesting without end. Each subgraph applies the gateway's
// limits (GATEWAY_MAX_QUERY_*) doubled, room for what the gateway's query plans add (key fields, `__typename`,
// `_entities`, fragments written out); the gateway's own plans pass (gateway and e2e tests).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createOutboxTable, PortableMigration, schemaSql, startServiceForTest, type Knex, type ServiceDefinition, type TestService } from '../src';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(createOutboxTable(knex));
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'query-limits-'));
const schemaFile = path.join(dir, 'schema.graphql');
fs.writeFileSync(
  schemaFile,
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
type Item @key(fields: "id") { id: ID! name: String next: Item }
type Query { item(id: ID!): Item }
`,
);
closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
const item = (id: string) => ({ id, name: `item ${id}` });
const definition: ServiceDefinition = {
  name: 'catalog',
  schemaPath: pathToFileURL(schemaFile),
  entities: [],
  migrations: [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }],
  resolvers: {
    Query: { item: (_: unknown, { id }: { id: string }) => item(id) },
    Item: { __resolveReference: ({ id }: { id: string }) => item(id), next: ({ id }: { id: string }) => item(`${id}+`) },
  },
};

async function start(env: NodeJS.ProcessEnv = {}): Promise<TestService> {
  const svc = await startServiceForTest(definition, { env });
  closers.push(() => svc.close());
  return svc;
}

/** Straight to the subgraph's port, without the gateway's signed caller (ANONYMOUS). */
async function direct(svc: TestService, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(svc.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }) };
}

const nested = (depth: number) => `{ item(id: "i") { ${'next { '.repeat(depth - 2)}id${' }'.repeat(depth - 2)} } }`;
const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: item(id: "${i}") { id }`).join(' ')} }`;

async function expectRefused(svc: TestService, query: string, message: RegExp): Promise<void> {
  const answer = await direct(svc, query);
  expect(answer.status).toBe(400);
  expect(answer.errors).toHaveLength(1);
  expect(answer.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(answer.errors![0]!.message).toMatch(message);
}

describe('a subgraph called directly refuses what the gateway would (its limits doubled)', () => {
  it('a 4.5 MB document of 1.5 million tokens, at the parser and quickly; 2,000 aliases; nesting 31 deep', async () => {
    const svc = await start();
    const started = Date.now();
    await expectRefused(svc, `{ item(id: "i") { ${'id '.repeat(1_500_000)}} }`, /^The document has more tokens \(names, values, punctuation\) than the maximum of 30000; it was not parsed \(twice GATEWAY_MAX_QUERY_TOKENS at a subgraph\)$/);
    expect(Date.now() - started).toBeLessThan(1_500);
    await expectRefused(svc, aliases(2000), /more aliased fields than the maximum of 100 \(twice GATEWAY_MAX_QUERY_ALIASES at a subgraph\)/);
    await expectRefused(svc, nested(31), /deeper than the maximum query depth of 30 fields \(twice GATEWAY_MAX_QUERY_DEPTH at a subgraph\)/);
    expect((await direct(svc, nested(30))).errors).toBeUndefined();
    expect((await direct(svc, aliases(100))).errors).toBeUndefined();
  });

  it('follows the gateway’s settings, and takes an `_entities` fetch as the gateway plans it', async () => {
    const svc = await start({ GATEWAY_MAX_QUERY_DEPTH: '3', GATEWAY_MAX_QUERY_FIELDS: '10', GATEWAY_MAX_QUERY_ALIASES: '2', GATEWAY_MAX_QUERY_TOKENS: '40' });
    await expectRefused(svc, nested(7), /maximum query depth of 6 fields \(twice GATEWAY_MAX_QUERY_DEPTH at a subgraph\)/);
    await expectRefused(svc, aliases(5), /maximum of 4 \(twice GATEWAY_MAX_QUERY_ALIASES at a subgraph\)/);
    await expectRefused(svc, `{ item(id: "i") { ${'name '.repeat(80)}} }`, /maximum of 80; it was not parsed \(twice GATEWAY_MAX_QUERY_TOKENS at a subgraph\)/);
    const entities = 'query Q__catalog__1($representations: [_Any!]!) { _entities(representations: $representations) { ... on Item { __typename id next { name } } } }';
    const answer = await direct(svc, entities, { representations: [{ __typename: 'Item', id: 'i1' }] });
    expect(answer).toEqual({ status: 200, data: { _entities: [{ __typename: 'Item', id: 'i1', next: { name: 'item i1+' } }] } });
  });
});
