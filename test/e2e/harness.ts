/**
 * Starts the whole system for end-to-end tests: five subgraphs, the gateway and the Temporal
 * worker as real processes on free ports, against the real PostgreSQL (a fresh schema prefix per
 * run), NATS and a Temporal dev server (TEMPORAL_ADDRESS, or one started here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startSystem, SERVICES, EVENTS_HUB, REPO_ROOT } from '../../deploy/local/system.mjs';
import { freeStablePort } from '../../deploy/local/net.mjs';
import { ensureTemporal } from '../../deploy/local/temporal.mjs';
import { signToken, type TokenClaims } from '../../gateway/src/auth';

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export interface System {
  gatewayUrl: string;
  urls: Record<string, string>;
  /** The partner webhook hub (TMF688 REST, not behind the gateway). */
  eventsHubUrl: string;
  temporalAddress: string;
  schemaPrefix: string;
  logFile: string;
  /** GraphQL through the gateway; `as` picks the caller (ADMIN by default). */
  graphql<T = any>(query: string, variables?: Record<string, unknown>, as?: TokenClaims): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, any> }[] }>;
  stop(): Promise<void>;
}

export async function startTestSystem(options: { worker?: boolean; /** Extra environment for every process (e.g. a short dunning policy). */ env?: Record<string, string> } = {}): Promise<System> {
  const schemaPrefix = `e2e_${randomBytes(3).toString('hex')}_`;
  const logFile = path.join(REPO_ROOT, '.data', 'e2e', `${schemaPrefix}system.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.createWriteStream(logFile);
  const temporal = await ensureTemporal({ log: (m: string) => log.write(`[temporal] ${m}\n`), dataDir: path.join(REPO_ROOT, '.data', 'e2e', 'temporal'), port: await freeStablePort() });
  // Ports below the ephemeral range: another test's listen(0) cannot take them before our servers start.
  const ports: Record<string, number> = { gateway: await freeStablePort() };
  for (const s of SERVICES) ports[s] = await freeStablePort();
  ports[EVENTS_HUB] = await freeStablePort();
  const serviceToken = await signToken({ role: 'SYSTEM', subject: 'ledgerline-worker' });
  const system = await startSystem({
    env: { DATABASE_URL, DB_SCHEMA_PREFIX: schemaPrefix, NATS_URL, TEMPORAL_ADDRESS: temporal.address, LOG_LEVEL: 'info', LEDGERLINE_SERVICE_TOKEN: serviceToken,
      // This run shares NATS (and the BILLING stream's history) with other runs: its consumers start at "now".
      USAGE_DELIVER_NEW: '1', WALLETS_CONSUMER_DELIVER: 'new', INVOICING_CONSUMER_DELIVER: 'new',
      // The worker's bill-cycle bridge would start a workflow for every account opened on the shared stream (other
      // runs' too), each catching up its periods against this run's invoicing: off unless a test asks for it.
      BILL_CYCLE_BRIDGE: 'off', ...options.env },
    ports,
    worker: options.worker ?? true,
    sink: (line: string) => log.write(line),
    log: (line: string) => log.write(`${line}\n`),
  });
  const tokens = new Map<string, string>();
  return {
    gatewayUrl: system.gatewayUrl,
    urls: system.urls,
    eventsHubUrl: system.eventsHubUrl,
    temporalAddress: temporal.address,
    schemaPrefix,
    logFile,
    async graphql(query, variables = {}, as = { role: 'ADMIN', subject: 'e2e' }) {
      const cacheKey = JSON.stringify(as);
      if (!tokens.has(cacheKey)) tokens.set(cacheKey, await signToken(as));
      const response = await fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(cacheKey)}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as any;
    },
    async stop() {
      await system.stop();
      await temporal.stop();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      if (!process.env.E2E_KEEP_SCHEMAS) for (const s of [...SERVICES, 'events_hub']) await client.query(`drop schema if exists "${schemaPrefix}${s}" cascade`);
      await client.end();
      log.end();
    },
  };
}

/** Fails the test with the data/errors of a GraphQL answer when it has errors. */
export function ok(result: { data?: any; errors?: { message: string }[] }): any {
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** Publishes the shipped catalog (offers, then plans) through the gateway, as `ledgerline catalog publish` does. */
export async function publishCatalog(system: System): Promise<void> {
  const dir = path.join(REPO_ROOT, 'catalog');
  for (const kind of ['offers', 'plans'] as const) {
    for (const file of fs.readdirSync(path.join(dir, kind)).filter((f) => f.endsWith('.json')).sort()) {
      const document = JSON.parse(fs.readFileSync(path.join(dir, kind, file), 'utf8'));
      const mutation = kind === 'offers' ? 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code } } }' : 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }';
      ok(await system.graphql(mutation, { i: { document } }));
    }
  }
}

/** Polls until `read` returns something truthy (events between services are asynchronous). */
export async function eventually<T>(read: () => Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/**
 * Waits until the usage service knows a line and its plan (it learns them from subscribers'
 * events): a record sent before that is rejected as LINE_UNKNOWN, which is right for the service
 * but makes a test that records usage right after `addLine` race the event. The line's plan must
 * have allowances (they are what shows that usage has the plan).
 */
export async function usageKnowsLine(system: System, lineId: string): Promise<void> {
  await eventually(async () => {
    const d = ok(await system.graphql('query($id: ID!) { line(id: $id) { usage { allowances { allowanceId } } } }', { id: lineId }));
    return d.line?.usage.allowances.length ? true : null;
  }, `usage to know line ${lineId} and its plan`);
}

/**
 * A fresh German mobile number for each test: end-to-end runs share NATS with other runs, and
 * read models keyed by MSISDN must not meet another run's line.
 */
export function freshMsisdn(): string {
  return `+49151${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}

/** A customer and a billing account in EUR (bill-cycle day 1) through the gateway; `extra` adds to the account input. */
export async function openAccount(system: System, paymentMode: 'PREPAID' | 'POSTPAID', name: string, extra: Record<string, unknown> = {}): Promise<{ customerId: string; accountId: string }> {
  const { createCustomer } = ok(await system.graphql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } }));
  const { openBillingAccount } = ok(
    await system.graphql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
      i: { customerId: createCustomer.customer.id, paymentMode, currency: 'EUR', billCycleDay: 1, ...extra },
    }),
  );
  return { customerId: createCustomer.customer.id as string, accountId: openBillingAccount.billingAccount.id as string };
}
