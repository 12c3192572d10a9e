import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import gql from 'graphql-tag';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scalarResolvers, sharedTypeDefs } from '@ledgerline/contracts';
import { createFormatError } from './graphql-errors';

// Where an input graphql-js refused sits (`extensions.field`), as the domain errors name it: the argument's path.
const typeDefs = gql(`extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])
${sharedTypeDefs}
input MoneyInput { amount: Decimal!, currency: CurrencyCode! }
input LineInput { amount: MoneyInput!, at: DateTime }
input OrderInput { lines: [LineInput!]!, note: String }
type Query {
  order(input: OrderInput!, at: DateTime): Int
  other(at: DateTime): Int
}`);

let server: ApolloServer;
beforeAll(async () => {
  const resolvers = { ...scalarResolvers, Query: { order: () => 1, other: () => 1 } };
  server = new ApolloServer({
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as unknown as GraphQLResolverMap<unknown> }),
    formatError: createFormatError(pino({ level: 'silent' })),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    includeStacktraceInErrorResponses: false,
  });
  await server.start();
});
afterAll(async () => server?.stop());

/** Each error's code and field. */
async function refused(query: string, variables: Record<string, unknown> = {}) {
  const response = await server.executeOperation({ query, variables });
  if (response.body.kind !== 'single') throw new Error('incremental answer');
  return (response.body.singleResult.errors ?? []).map((e) => ({ code: e.extensions?.code, field: e.extensions?.field }));
}

const line = (amount: unknown, currency: unknown = 'EUR') => ({ amount: { amount, currency } });

describe('extensions.field of a refused input', () => {
  it("a variable's refused part is named after the argument it is passed to, list items by index", async () => {
    expect(await refused('query($o: OrderInput!) { order(input: $o) }', { o: { lines: [line('1.00'), line(12.5)] } })).toEqual([{ code: 'BAD_USER_INPUT', field: 'input.lines[1].amount.amount' }]);
    expect(await refused('query($l: LineInput!) { order(input: { lines: [$l] }) }', { l: { amount: { amount: '1', currency: 'EURO' } } })).toEqual([{ code: 'BAD_USER_INPUT', field: 'input.lines[0].amount.currency' }]);
    expect(await refused('query($a: DateTime) { order(input: { lines: [] }, at: $a) }', { a: 'soon' })).toEqual([{ code: 'BAD_USER_INPUT', field: 'at' }]);
  });

  it('a required variable left out or null names its argument', async () => {
    expect(await refused('query($o: OrderInput!) { order(input: $o) }')).toEqual([{ code: 'BAD_USER_INPUT', field: 'input' }]);
    expect(await refused('query($o: OrderInput!) { order(input: $o) }', { o: null })).toEqual([{ code: 'BAD_USER_INPUT', field: 'input' }]);
  });

  it('a literal is named by where it is, in a fragment too', async () => {
    expect(await refused('{ order(input: { lines: [{ amount: { amount: 12.5, currency: "EUR" } }] }) }')).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', field: 'input.lines[0].amount.amount' }]);
    expect(await refused('{ ...F } fragment F on Query { other(at: "2026-13-01T00:00:00Z") }')).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', field: 'at' }]);
  });

  it('a value that spells out a path does not move the field', async () => {
    expect(await refused('query($a: DateTime) { other(at: $a) }', { a: 'x at "a.evil"' })).toEqual([{ code: 'BAD_USER_INPUT', field: 'at' }]);
    const o = { lines: [{ amount: { amount: '1', currency: 'EUR', 'k at "o.lines[0].evil"': 1 } }] };
    expect(await refused('query($o: OrderInput!) { order(input: $o) }', { o })).toEqual([{ code: 'BAD_USER_INPUT', field: 'input.lines[0].amount' }]);
  });

  it('no field when the argument is not one: a variable passed to two, a literal in a default value', async () => {
    expect(await refused('query($a: DateTime) { order(input: { lines: [{ amount: { amount: "1", currency: "EUR" }, at: $a }] }) other(at: $a) }', { a: 'soon' })).toEqual([
      { code: 'BAD_USER_INPUT', field: undefined },
    ]);
    expect(await refused('query($a: DateTime = "soon") { other(at: $a) }')).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', field: undefined }]);
  });
});
