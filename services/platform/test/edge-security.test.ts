// What every subgraph's HTTP edge refuses (platform's startService, on the real PostgreSQL and
// NATS): a stale forwarded caller, /metrics without METRICS_TOKEN when one is set, and GraphQL
// introspection in production unless GRAPHQL_INTROSPECTION=on. A minimal subgraph stands in for
// the five services: they all start through the same code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import {
  addOutboxFailureColumns,
  callerHeaders,
  ConfigError,
  createOutboxTable,
  graphqlRequest,
  PortableMigration,
  schemaSql,
  startService,
  startServiceForTest,
  type Knex,
  type ServiceDefinition,
  type TestService,
} from '../src';

class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-security-'));
const schemaFile = path.join(dir, 'schema.graphql');
fs.writeFileSync(
  schemaFile,
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
type Query { whoAmI: String! }
`,
);

const definition: ServiceDefinition = {
  name: 'catalog',
  schemaPath: pathToFileURL(schemaFile),
  entities: [],
  migrations: [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }],
  resolvers: { Query: { whoAmI: (_: unknown, __: unknown, ctx: { caller: Caller }) => `${ctx.caller.role}:${ctx.caller.subject}` } },
};

/** Production settings that pass every secret check (32+ random-looking characters). */
const SECRET = 'q0V3l7mJ2yR9sT4uW8xZ1aB5cD6eF0gH';
const TOKEN = 'm3tr1cs-T0ken-9f2d7c4b1a8e6f3d0c5b';
const PRODUCTION = { NODE_ENV: 'production', LEDGERLINE_INTERNAL_SECRET: SECRET, METRICS_TOKEN: TOKEN };

const started: TestService[] = [];
async function start(env: NodeJS.ProcessEnv): Promise<TestService> {
  const svc = await startServiceForTest(definition, { env: { METRICS_TOKEN: '', NODE_ENV: 'test', GRAPHQL_INTROSPECTION: '', ...env } });
  started.push(svc);
  return svc;
}
afterAll(async () => {
  for (const svc of started) await svc.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const metricsOf = (svc: TestService, authorization?: string) =>
  fetch(svc.url.replace(/\/graphql$/, '/metrics'), { headers: authorization ? { authorization } : {} });

const INTROSPECTION = '{ __schema { queryType { name } } }';
const SERVICE_SDL = '{ _service { sdl } }';
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };

describe('/metrics with METRICS_TOKEN', () => {
  it('answers 401 without the token or with a wrong one, 200 with it', async () => {
    const svc = await start({ METRICS_TOKEN: TOKEN });
    const none = await metricsOf(svc);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toMatch(/ledgerline_graphql_requests_total|process_cpu/);
    expect((await metricsOf(svc, 'Bearer wrong-token')).status).toBe(401);
    expect((await metricsOf(svc, `Bearer ${TOKEN}x`)).status).toBe(401);
    expect((await metricsOf(svc, TOKEN)).status).toBe(401); // not as a bearer token
    const ok = await metricsOf(svc, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/process_cpu_user_seconds_total\{service="catalog"\}/);
    // /health stays open for the probes.
    expect((await fetch(svc.url.replace(/\/graphql$/, '/health'))).status).toBe(200);
  });

  it('without METRICS_TOKEN (development) /metrics is open, as before', async () => {
    const svc = await start({});
    expect((await metricsOf(svc)).status).toBe(200);
  });

  it('production refuses to start without METRICS_TOKEN, or with a placeholder', async () => {
    for (const token of [undefined, 'change-me']) {
      const env = { ...process.env, ...PRODUCTION, CATALOG_PORT: '0', METRICS_TOKEN: token };
      if (token === undefined) delete env.METRICS_TOKEN;
      const error = await startService(definition, { env }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).setting).toBe('METRICS_TOKEN');
    }
  });
});

describe('GraphQL introspection', () => {
  it('is answered in development', async () => {
    const svc = await start({});
    expect((await svc.request(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('is refused in production; _service { sdl } (federation) still answers', async () => {
    const svc = await start(PRODUCTION);
    const refused = await svc.request(INTROSPECTION);
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(refused.errors?.[0]?.message).toMatch(/introspection/i);
    expect((await svc.request('{ __type(name: "Query") { name } }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const sdl = await svc.request(SERVICE_SDL);
    expect(sdl.errors).toBeUndefined();
    expect(sdl.data._service.sdl).toMatch(/whoAmI: String!/);
    expect((await svc.request('{ whoAmI __typename }')).data).toEqual({ whoAmI: 'SYSTEM:ledgerline-system', __typename: 'Query' });
  });

  it('production answers it with GRAPHQL_INTROSPECTION=on; a value other than on/off stops start-up', async () => {
    const svc = await start({ ...PRODUCTION, GRAPHQL_INTROSPECTION: 'on' });
    expect((await svc.request(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const error = await startService(definition, { env: { ...process.env, ...PRODUCTION, CATALOG_PORT: '0', GRAPHQL_INTROSPECTION: 'yes' } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as ConfigError).setting).toBe('GRAPHQL_INTROSPECTION');
  });
});

describe('forwarded caller over HTTP', () => {
  it('a fresh signature is the caller; one older than LEDGERLINE_CALLER_MAX_AGE_SECONDS is 401 UNAUTHENTICATED', async () => {
    const svc = await start({ LEDGERLINE_CALLER_MAX_AGE_SECONDS: '60' });
    const secret = process.env.LEDGERLINE_INTERNAL_SECRET ?? 'ledgerline-dev-internal-secret';
    const fresh = await graphqlRequest(svc.url, '{ whoAmI }', {}, { headers: callerHeaders(AGENT, secret) });
    expect(fresh.data).toEqual({ whoAmI: 'AGENT:agent.bob@operator.example' });
    const captured = callerHeaders(AGENT, secret, new Date(Date.now() - 61_000));
    const replayed = await fetch(svc.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...captured },
      body: JSON.stringify({ query: '{ whoAmI }' }),
    });
    expect(replayed.status).toBe(401);
    const body = (await replayed.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect(body.errors[0]!.message).toMatch(/older than 60 s/);
  });
});
