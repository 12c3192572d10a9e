// `/health` of every subgraph (and, through the same server, the gateway): up or down, the service's name and which
// checks failed by NAME only. Why one failed (a driver's message: internal host names, ports, a connection string
// with its password) goes to the log, at warn, never into the answer: the probes and whoever reaches the port only
// need to know up or down.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gql } from 'graphql-tag';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { addOutboxFailureColumns, createOutboxTable, PortableMigration, schemaSql, startServiceForTest, startSubgraphServer, type Knex, type ServiceDefinition, type SubgraphServer, type TestService } from '../src';

/** A secret-looking connection string, as some drivers put in their errors (user, password, internal host). */
const CONNECTION_STRING = 'postgres://ledgerline:pW-9f3Kq7Zr2Lx8s@db-primary.billing.internal:5432/ledgerline';

/** A pino logger writing every line into `lines`, as the service would to stdout. */
function capture(lines: string[]) {
  return pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
}
const logged = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, any>);

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('the HTTP edge answers which check failed, by name; the cause goes to the log', () => {
  async function serve(lines: string[], health: Record<string, () => Promise<unknown>>): Promise<SubgraphServer> {
    const server = await startSubgraphServer({
      service: 'usage',
      typeDefs: gql`
        type Query {
          ping: String
        }
      `,
      resolvers: { Query: { ping: () => 'pong' } },
      introspection: false,
      host: '127.0.0.1',
      port: 0,
      portSetting: 'USAGE_PORT',
      logger: capture(lines),
      context: async () => ({}),
      health,
    });
    closers.push(() => server.close());
    return server;
  }
  const healthOf = (server: SubgraphServer) => fetch(server.url.replace(/\/graphql$/, '/health'));

  it('a failing check whose error holds a connection string: 503 naming the check, without the string; logged at warn with it', async () => {
    const lines: string[] = [];
    const server = await serve(lines, {
      database: async () => {
        throw new Error(`connection to ${CONNECTION_STRING} failed: getaddrinfo ENOTFOUND db-primary.billing.internal`);
      },
      nats: async () => 3,
    });
    const down = await healthOf(server);
    expect(down.status).toBe(503);
    const text = await down.text();
    expect(JSON.parse(text)).toEqual({ status: 'unavailable', service: 'usage', failed: ['database'] });
    expect(text).not.toContain('pW-9f3Kq7Zr2Lx8s');
    expect(text).not.toContain('billing.internal');
    // Whoever runs the service still finds the cause: one warn line per failed check, naming it.
    const line = logged(lines).find((l) => l.msg === 'health check failed');
    expect(line?.level).toBe(40);
    expect(line?.check).toBe('database');
    expect(line?.err?.message).toContain(CONNECTION_STRING);
  });

  it('every failed check is named (none of their messages); healthy checks are not listed; up is {status, service}', async () => {
    const lines: string[] = [];
    let natsUp = false;
    const server = await serve(lines, {
      database: async () => {
        throw new Error(`password authentication failed for user "ledgerline" (${CONNECTION_STRING})`);
      },
      nats: async () => {
        if (!natsUp) throw new Error('CONNECTION_REFUSED nats://nats.billing.internal:4222');
      },
      temporal: async () => undefined,
    });
    const down = await healthOf(server);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', service: 'usage', failed: ['database', 'nats'] });
    const warned = logged(lines).filter((l) => l.msg === 'health check failed');
    expect(warned.map((l) => l.check).sort()).toEqual(['database', 'nats']);
    expect(warned.map((l) => l.err?.message).join('\n')).toContain('nats.billing.internal:4222');

    natsUp = true;
    const server2 = await serve([], { database: async () => undefined, nats: async () => undefined });
    const up = await healthOf(server2);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ok', service: 'usage' });
  });
});

class OutboxOnly extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
  }
}

describe("a subgraph started as every service is (startService: PostgreSQL and NATS checks)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'health-'));
  const schemaFile = path.join(dir, 'schema.graphql');
  fs.writeFileSync(schemaFile, `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])\ntype Query { ping: String }\n`);
  closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const definition: ServiceDefinition = {
    name: 'catalog',
    schemaPath: pathToFileURL(schemaFile),
    entities: [],
    migrations: [{ name: 'Migration00000000000000_outbox', class: OutboxOnly }],
    resolvers: { Query: { ping: () => 'pong' } },
  };

  it('up: 200 {status, service} (deploy/local/system.mjs reads `service`); NATS gone: 503 failed ["nats"], the driver error logged only', async () => {
    const lines: string[] = [];
    const svc: TestService = await startServiceForTest(definition, { logger: capture(lines) });
    closers.push(() => svc.close());
    const health = svc.url.replace(/\/graphql$/, '/health');
    const up = await fetch(health);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ok', service: 'catalog' });

    await svc.runtime.messaging.nc.close();
    const down = await fetch(health);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', service: 'catalog', failed: ['nats'] });
    const line = logged(lines).find((l) => l.msg === 'health check failed');
    expect(line?.level).toBe(40);
    expect(line?.check).toBe('nats');
    expect(line?.err?.message).toBeTruthy();
  });
});
