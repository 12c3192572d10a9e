// review31: a subgraph answered an unexpected failure (here PostgreSQL refusing a row) "Internal error" with nothing a
// customer could quote: support could not tell which of the logged errors was theirs. Now the answer carries a
// reference (in its message and `extensions.reference`) that the logged error has too, as online charging's NATS
// replies do (internalErrorAnswer); an INTERNAL domain error (a service it depends on is down) keeps its message
// and gets a reference the same way. Neither answer says what PostgreSQL said.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dependencyUnavailable } from '@ledgerline/contracts';
import { createOutboxTable, PortableMigration, schemaSql, startServiceForTest, type Knex, type RequestContext, type ServiceDefinition, type TestService } from '../src';

class WithThing extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), `create table review31_thing (n int not null constraint review31_positive check (n > 0))`];
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'review31-internal-'));
const schemaFile = path.join(dir, 'schema.graphql');
fs.writeFileSync(
  schemaFile,
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
type Query { ok: Int }
type Mutation { addThing(n: Int!): Int walletsDown: Int }
`,
);
const definition: ServiceDefinition = {
  name: 'catalog',
  schemaPath: pathToFileURL(schemaFile),
  entities: [],
  migrations: [{ name: 'Migration00000000000000_review31', class: WithThing }],
  resolvers: {
    Query: { ok: () => 1 },
    Mutation: {
      addThing: async (_: unknown, { n }: { n: number }, ctx: RequestContext) => {
        await ctx.em.execute(ctx.em.getKnex().raw('insert into review31_thing (n) values (?)', [n]));
        return n;
      },
      walletsDown: () => {
        throw dependencyUnavailable('WALLETS_UNAVAILABLE', 'wallets is unavailable; try again later', 'nats://10.0.0.7:4222', new Error('connection refused'));
      },
    },
  },
};

let svc: TestService;
beforeAll(async () => {
  svc = await startServiceForTest(definition);
});
afterAll(async () => {
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The log entry (its fields) carrying `reference`. */
function loggedWith(logged: ReturnType<typeof vi.spyOn>, reference: unknown): { err?: Error } | undefined {
  const entries: { reference?: string; err?: Error }[] = logged.mock.calls.map((args: unknown[]) => args[0] as { reference?: string; err?: Error });
  return entries.find((fields) => fields?.reference === reference);
}

describe('review31: an internal error answered by a subgraph carries a reference its log line has', () => {
  it('an unexpected failure: "internal error (reference …)", extensions.reference, the database text only in the log', async () => {
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    expect((await svc.request('mutation { addThing(n: 1) }')).data).toEqual({ addThing: 1 });
    const res = await svc.request('mutation { addThing(n: -1) }');
    const error = res.errors?.[0];
    expect(error?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const reference = error?.extensions?.reference;
    expect(reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(error?.message).toBe(`internal error (reference ${reference})`);
    expect(JSON.stringify(res)).not.toMatch(/review31|constraint|relation/);
    expect(String(loggedWith(logged, reference)?.err?.message)).toContain('review31_positive');
    logged.mockRestore();
  });

  it('an INTERNAL domain error keeps its message and gets a reference, its cause (the address) only in the log', async () => {
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    const res = await svc.request('mutation { walletsDown }');
    const error = res.errors?.[0];
    expect(error).toMatchObject({ message: 'wallets is unavailable; try again later', extensions: { code: 'INTERNAL', reason: 'WALLETS_UNAVAILABLE' } });
    const reference = error?.extensions?.reference;
    expect(reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(res)).not.toContain('10.0.0.7');
    expect(loggedWith(logged, reference)?.err?.message).toBe('wallets is unavailable; try again later');
    logged.mockRestore();
  });
});
