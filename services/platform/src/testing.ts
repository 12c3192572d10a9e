import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Caller } from '@ledgerline/contracts';
import { callerHeaders, SYSTEM_CALLER } from './caller';
import { DEV_INTERNAL_SECRET } from './config';
import { createLogger, type Logger } from './logger';
import { startService, type Clock, type RunningService, type ServiceDefinition } from './service';

/** Integration tests talk to the real PostgreSQL and NATS (see STACK.md); these are their addresses. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export interface TestService extends RunningService {
  /** The PostgreSQL schema this test got to itself; dropped by `close()`. */
  schema: string;
  /** POSTs a GraphQL operation straight to the subgraph as `caller` (SYSTEM by default). */
  request<T = any>(query: string, variables?: Record<string, unknown>, caller?: Caller): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;
}

/**
 * Starts a service on a free port in a schema of its own, so test files (and engineers running
 * tests side by side) never see each other's rows.
 */
export async function startServiceForTest<X extends object>(def: ServiceDefinition<X>, options: { env?: NodeJS.ProcessEnv; clock?: Clock; logger?: Logger } = {}): Promise<TestService> {
  const schema = `t_${randomBytes(4).toString('hex')}_${def.name}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: TEST_DATABASE_URL,
    [`${def.name.toUpperCase()}_DB_SCHEMA`]: schema,
    [`${def.name.toUpperCase()}_PORT`]: '0',
    NATS_URL: TEST_NATS_URL,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...options.env,
  };
  const running = await startService(def, { env, clock: options.clock, logger: options.logger ?? createLogger(def.name, env.LOG_LEVEL) });
  return {
    ...running,
    schema,
    // Signed at each request (a signed caller goes stale after LEDGERLINE_CALLER_MAX_AGE_SECONDS).
    request: (query, variables, caller) => graphqlRequest(running.url, query, variables, { headers: callerHeaders(caller ?? SYSTEM_CALLER, env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) }),
    async close() {
      await running.close();
      await dropSchema(schema);
    },
  };
}

/**
 * A running service's `/metrics`, as `name{labels}` → value (the `service` label left out, labels
 * in the order served): `ledgerline_wallets_charges_total{outcome="APPLIED"}`, or the bare name for
 * a metric without labels.
 */
export async function scrapeMetrics(service: { url: string }): Promise<Record<string, number>> {
  // A service started with METRICS_TOKEN (from this process's environment) wants it as a bearer token.
  const token = process.env.METRICS_TOKEN;
  const text = await (await fetch(service.url.replace(/\/graphql$/, '/metrics'), { headers: token ? { authorization: `Bearer ${token}` } : {} })).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter((l) => l && !l.startsWith('service=')).join(',');
    out[labels ? `${m[1]}{${labels}}` : m[1]] = Number(m[3]);
  }
  return out;
}

export async function dropSchema(schema: string, databaseUrl = TEST_DATABASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

export async function graphqlRequest<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ query, variables }),
    signal: options.signal,
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`GraphQL endpoint answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * The port on 127.0.0.1 tests use for a peer that is down: nothing listens there and no `listen(0)` is given it.
 * Not a port taken from a server that listened on 0 and was closed: under load the kernel hands such a port out
 * again, to another server of the same run, which then answers in the place of the "refused" peer (a gateway of
 * the same test did, in gateway/test/subgraph-failures, 042842d). This one is below the ephemeral range that
 * `listen(0)` and outgoing connections take ports from (Linux's ip_local_port_range, 32768–60999 by default;
 * 49152–65535 on macOS and Windows), above the well-known ports, and not one Ledgerline uses. Checked, once per
 * process: a machine whose ephemeral range reaches down to it, or where something listens on it, fails here saying
 * so, not later as a test that got an answer it should not have.
 */
export const REFUSED_PORT = 29_999;
let refusedPortChecked: Promise<number> | undefined;
export function refusedPort(): Promise<number> {
  refusedPortChecked ??= checkRefusedPort(REFUSED_PORT);
  return refusedPortChecked;
}

async function checkRefusedPort(port: number): Promise<number> {
  const [fs, net] = await Promise.all([import('node:fs'), import('node:net')]);
  const range = (() => {
    try {
      return fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    } catch {
      return undefined; // not Linux: the ephemeral ranges elsewhere start at 49152
    }
  })();
  if (range && range[0]! <= port && port <= range[1]!) throw new Error(`refusedPort: ${port} is in this machine's ephemeral port range (${range.join('–')}): listen(0) could be given it`);
  const answered = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
  if (answered) throw new Error(`refusedPort: something listens on 127.0.0.1:${port}; tests need it to refuse connections`);
  return port;
}

/** A clock tests can set and move. */
export class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  set(date: Date | string): void {
    this.current = new Date(date);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/**
 * A nats-server with JetStream of its own (free port, temporary store), for benchmarks: millions
 * of their messages must not land in the shared BILLING stream other runs read. `stop()` kills it
 * and removes the store. `config` starts it with a configuration file (e.g. deploy/nats's
 * authorization; the address, port and store given here win), `env` is its environment (the
 * variables such a file reads).
 */
export async function startPrivateNats(
  binary = process.env.NATS_SERVER_BIN ?? 'nats-server',
  options: { config?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const [{ spawn }, fs, os, path, net] = await Promise.all([import('node:child_process'), import('node:fs'), import('node:os'), import('node:path'), import('node:net')]);
  const port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-nats-'));
  const child = spawn(binary, [...(options.config ? ['-c', options.config] : []), '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore', env: options.env ?? process.env });
  const url = `nats://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the private nats-server (${binary}) did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
