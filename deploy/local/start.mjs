#!/usr/bin/env node
// `npm start`: installs what is missing, finds or starts NATS and Temporal, runs every service,
// the gateway and the worker with demo data, and prints where to go. Ctrl-C stops what it started.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, portsFromEnv, startSystem } from './system.mjs';
import { ensureNats } from './nats.mjs';
import { ensureTemporal } from './temporal.mjs';
import { ensureEmbeddedPostgres } from './postgres.mjs';

const log = (msg) => process.stdout.write(`\u001b[1m[ledgerline]\u001b[0m ${msg}\n`);
/** One line saying what is wrong, after stopping whatever was started so far. */
const fail = async (msg) => {
  await cleanup();
  process.stderr.write(`\u001b[1m[ledgerline]\u001b[0m ${msg}\n`);
  process.exit(1);
};

const cleanups = [];
/** How long one stop may take before the next is started anyway. */
const STOP_TIMEOUT_MS = 15_000;
/**
 * Stops what was started, last first; a second call finds nothing left to stop. A stop that
 * hangs is given up after STOP_TIMEOUT_MS, so it never leaves the others running.
 */
async function cleanup() {
  while (cleanups.length > 0) {
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)));
    await Promise.race([cleanups.pop()().catch(() => {}), timeout]);
    clearTimeout(timer);
  }
}

async function installIfMissing() {
  if (existsSync(join(REPO_ROOT, 'node_modules', '.package-lock.json')) && existsSync(join(REPO_ROOT, 'node_modules', 'tsx'))) return;
  log('installing dependencies (npm ci)…');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.status !== 0) return fail('npm ci failed; see above. Node 20.19+ and access to the npm registry are needed.');
}

async function main() {
  await installIfMissing();
  const dataDir = process.env.LEDGERLINE_DATA_DIR ?? join(REPO_ROOT, '.data');
  mkdirSync(dataDir, { recursive: true });

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) log(`database: PostgreSQL at DATABASE_URL (one schema per service)`);
  else {
    try {
      const pg = await ensureEmbeddedPostgres({ log, dataDir });
      cleanups.push(pg.stop);
      databaseUrl = pg.url;
    } catch (error) {
      await fail(`no DATABASE_URL and the embedded PostgreSQL did not start (${error.message.split('\n')[0]}); set DATABASE_URL to a PostgreSQL server`);
    }
  }

  let nats;
  try {
    nats = await ensureNats({ log, dataDir });
  } catch (error) {
    await fail(error.message);
  }
  cleanups.push(nats.stop);

  let temporal;
  try {
    temporal = await ensureTemporal({ log, dataDir: join(dataDir, 'temporal') });
  } catch (error) {
    await fail(error.message.split('\n')[0]);
  }
  cleanups.push(temporal.stop);

  // The worker calls the graph as SYSTEM with a development token (set LEDGERLINE_SERVICE_TOKEN in production).
  const serviceToken =
    process.env.LEDGERLINE_SERVICE_TOKEN ??
    spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', 'token', '--role', 'SYSTEM', '--subject', 'ledgerline-worker', '--expires-in', '3650d'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
  const env = { LEDGERLINE_SERVICE_TOKEN: serviceToken, DATABASE_URL: databaseUrl, NATS_URL: nats.url, TEMPORAL_ADDRESS: temporal.address, LEDGERLINE_DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  let system;
  try {
    system = await startSystem({ env, ports: portsFromEnv() });
  } catch (error) {
    await fail(error.message);
  }
  cleanups.push(system.stop);

  log('loading the sample catalog and demo data…');
  const seeded = spawnSync(process.execPath, ['--import', 'tsx', 'deploy/local/seed.ts'], { cwd: REPO_ROOT, env: { ...process.env, GATEWAY_URL: system.gatewayUrl }, encoding: 'utf8' });
  if (seeded.status !== 0) {
    process.stderr.write(seeded.stderr);
    await fail('loading demo data failed (see above)');
  }
  const demo = JSON.parse(seeded.stdout.trim().split('\n').pop());
  const token = spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', 'token', '--role', 'ADMIN'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();

  log('');
  log(`Ledgerline is running. GraphQL gateway: \u001b[1m${system.gatewayUrl}\u001b[0m`);
  log(`Try (an admin token for development is below; \`npx ledgerline token --role CUSTOMER --customer ${demo.customerId}\` makes a customer one):`);
  log('');
  process.stdout.write(
    `curl -s ${system.gatewayUrl} -H 'content-type: application/json' -H 'authorization: Bearer ${token}' \\\n` +
      `  -d '{"query":"{ billingAccount(id: \\"${demo.billingAccountId}\\") { currency wallets { balance { amount currency } } invoices { number } lines { msisdn status usage { period totals { usageType quantity } } } } }"}'\n\n`,
  );
  log(`The demo family (postpaid, three lines sharing FAMILY_SHARE_50GB) is ${demo.billingAccountId}; a prepaid customer on PREPAID_BUNDLE_30D, topped up, is ${demo.prepaid.billingAccountId} (its wallet shows the bundle fee taken).`);
  log(`Partner webhooks (TMF688 hub): ${system.eventsHubUrl}/tmf-api/eventManagement/v4/hub (a partner token: \`npx ledgerline token --role PARTNER --partner <id>\`; README "Partner webhooks").`);
  log('Press Ctrl-C to stop everything this command started.');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await cleanup();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A supervisor that stops `npm start` with SIGTERM reaches npm, not us (npm's shell does not pass
  // it on): when our parent is gone, stop everything we started instead of running on as orphans.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop();
  }, 1000).unref();
  const watchdog = setInterval(async () => {
    const failure = system.failed();
    if (failure) {
      clearInterval(watchdog);
      log(failure);
      await stop();
    }
  }, 1000);
}

void main();
