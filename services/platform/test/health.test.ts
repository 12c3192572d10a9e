// `/health` of every subgraph (and, through the same server, the gateway): up or down, the service's name and which
// checks failed by NAME only. Why one failed (a driver's message: internal host names, ports, a connection string
// with its password) goes to the log, at warn, never into the answer: the probes and whoever reaches the port only
// need to know up or down.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gql } from 'graphql-tag';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { addOutboxFailureColumns, createOutboxTable, PortableMigration, schemaSql, startServiceForTest, startSubgraphServer, TEST_NATS_URL, ConfigError, healthCheckTimeoutSetting, type Knex, type ServiceDefinition, type SubgraphServer, type TestService } from '../src';

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

describe('a check that hangs or keeps failing: a prompt 503 naming it; one warn line when its state changes, not one per probe', () => {
  async function serve(lines: string[], health: Record<string, () => Promise<unknown>>, healthOptions?: { timeoutMs?: number; now?: () => number }): Promise<SubgraphServer> {
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
      healthOptions,
    });
    closers.push(() => server.close());
    return server;
  }
  const healthOf = (server: SubgraphServer) => fetch(server.url.replace(/\/graphql$/, '/health'));
  const warnings = (lines: string[]) => logged(lines).filter((l) => l.level === 40 && l.msg === 'health check failed');

  it('a check that never resolves (a PostgreSQL that accepts but never answers): 503 naming it within ~2 s (the default), logged with reason "timeout"', async () => {
    const lines: string[] = [];
    const server = await serve(lines, { database: () => new Promise(() => undefined), nats: async () => 1 });
    const started = performance.now();
    const down = await healthOf(server);
    const took = performance.now() - started;
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', service: 'usage', failed: ['database'] });
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(3000);
    const [line, ...more] = warnings(lines);
    expect(more).toEqual([]);
    expect(line?.check).toBe('database');
    expect(line?.reason).toBe('timeout');
    expect(line?.timeoutMs).toBe(2000);
  }, 10_000);

  it('repeated probes of a check failing the same way: one warn line, debug while it lasts, warn again after a minute; another cause warns at once; the recovery is logged', async () => {
    const lines: string[] = [];
    let now = Date.parse('2026-12-01T10:00:00Z');
    let cause: Error | null = new Error('connect ECONNREFUSED 10.0.0.7:5432');
    const server = await serve(
      lines,
      {
        database: async () => {
          if (cause) throw cause;
        },
        nats: async () => 1,
      },
      { timeoutMs: 300, now: () => now },
    );
    for (let probe = 0; probe < 6; probe++) {
      expect((await healthOf(server)).status).toBe(503);
      now += 5_000;
    }
    expect(warnings(lines)).toHaveLength(1);
    expect(warnings(lines)[0]).toMatchObject({ check: 'database', reason: 'error', err: { message: cause.message } });
    const quiet = logged(lines).filter((l) => l.msg === 'health check failed' && l.level === 20);
    expect(quiet).toHaveLength(5);

    // A minute after the last warn line, still failing the same way: one more warn line, saying for how long.
    now += 35_000;
    expect((await healthOf(server)).status).toBe(503);
    expect(warnings(lines)).toHaveLength(2);
    expect(warnings(lines)[1]).toMatchObject({ check: 'database', reason: 'error' });
    expect(warnings(lines)[1]!.failingForMs).toBe(65_000);
    now += 5_000;
    expect((await healthOf(server)).status).toBe(503);
    expect(warnings(lines)).toHaveLength(2);

    // Another cause: warned at once.
    cause = new Error('password authentication failed for user "ledgerline"');
    now += 5_000;
    expect((await healthOf(server)).status).toBe(503);
    expect(warnings(lines)).toHaveLength(3);
    expect(warnings(lines)[2]!.err.message).toContain('password authentication failed');

    // Recovered: one info line, then nothing while it stays up.
    cause = null;
    now += 5_000;
    expect((await healthOf(server)).status).toBe(200);
    expect((await healthOf(server)).status).toBe(200);
    const recovered = logged(lines).filter((l) => l.msg === 'health check recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ level: 30, check: 'database', failedForMs: 80_000 });

    // Failing again after the recovery is a change of state: warned at once.
    cause = new Error('connect ECONNREFUSED 10.0.0.7:5432');
    now += 5_000;
    expect((await healthOf(server)).status).toBe(503);
    expect(warnings(lines)).toHaveLength(4);
  });

  it('a check that times out, then fails with an error: two warn lines (another cause)', async () => {
    const lines: string[] = [];
    let hang = true;
    const server = await serve(
      lines,
      {
        nats: () => (hang ? new Promise(() => undefined) : Promise.reject(new Error('CONNECTION_REFUSED'))),
      },
      { timeoutMs: 200 },
    );
    expect(await (await healthOf(server)).json()).toEqual({ status: 'unavailable', service: 'usage', failed: ['nats'] });
    expect(await (await healthOf(server)).json()).toEqual({ status: 'unavailable', service: 'usage', failed: ['nats'] });
    hang = false;
    expect((await healthOf(server)).status).toBe(503);
    expect(warnings(lines).map((l) => l.reason)).toEqual(['timeout', 'error']);
  });
});

describe('HEALTH_CHECK_TIMEOUT_MS', () => {
  it('default 2000; a positive whole number of milliseconds; anything else a ConfigError naming it', () => {
    expect(healthCheckTimeoutSetting({})).toBe(2000);
    expect(healthCheckTimeoutSetting({ HEALTH_CHECK_TIMEOUT_MS: '750' })).toBe(750);
    for (const bad of ['0', '-5', '2s', '1.5']) {
      expect(() => healthCheckTimeoutSetting({ HEALTH_CHECK_TIMEOUT_MS: bad })).toThrow(ConfigError);
      expect(() => healthCheckTimeoutSetting({ HEALTH_CHECK_TIMEOUT_MS: bad })).toThrow(/HEALTH_CHECK_TIMEOUT_MS/);
    }
  });
});

/**
 * A TCP relay in front of NATS that can stop passing bytes on (holding them, as a partitioned network does) and
 * then pass them on again: the connection stays open, nothing answers.
 */
async function partitionableRelay(target: { host: string; port: number }) {
  let held = false;
  const waiting: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const forward = (from: net.Socket, to: net.Socket) =>
    from.on('data', (chunk) => {
      if (held) waiting.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    partition: () => void (held = true),
    heal: () => {
      held = false;
      for (const send of waiting.splice(0)) send();
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

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

  it('NATS partitioned (the connection open, nothing answered): 503 failed ["nats"] within HEALTH_CHECK_TIMEOUT_MS, reason "timeout"; healed: 200 and the recovery logged', async () => {
    const natsUrl = new URL(TEST_NATS_URL);
    const relay = await partitionableRelay({ host: natsUrl.hostname, port: Number(natsUrl.port || 4222) });
    const lines: string[] = [];
    const svc: TestService = await startServiceForTest(definition, { logger: capture(lines), env: { NATS_URL: relay.url, HEALTH_CHECK_TIMEOUT_MS: '500' } });
    closers.push(() => relay.close());
    closers.push(() => svc.close());
    const health = svc.url.replace(/\/graphql$/, '/health');
    expect((await fetch(health)).status).toBe(200);

    relay.partition();
    const started = performance.now();
    const down = await fetch(health, { signal: AbortSignal.timeout(5_000) });
    const took = performance.now() - started;
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', service: 'catalog', failed: ['nats'] });
    expect(took).toBeLessThan(1_500);
    expect((await fetch(health, { signal: AbortSignal.timeout(5_000) })).status).toBe(503);
    const warned = logged(lines).filter((l) => l.msg === 'health check failed' && l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ check: 'nats', reason: 'timeout', timeoutMs: 500 });

    relay.heal();
    expect((await fetch(health)).status).toBe(200);
    expect(logged(lines).filter((l) => l.msg === 'health check recovered').map((l) => l.check)).toEqual(['nats']);
  }, 20_000);
});
