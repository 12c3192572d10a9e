// Starts the whole Ledgerline system as separate processes (five subgraphs, gateway, events hub,
// Temporal worker) with prefixed logs, waits until each is healthy, and stops exactly what it started.
// Used by `npm start` and by the end-to-end test harness.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './net.mjs';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVICES = ['catalog', 'subscribers', 'usage', 'wallets', 'invoicing'];
/** The partner webhook hub (TMF688 REST, not a subgraph: never in the gateway's list). */
export const EVENTS_HUB = 'events-hub';
export const DEFAULT_PORTS = { gateway: 4000, catalog: 4001, subscribers: 4002, usage: 4003, wallets: 4004, invoicing: 4005, [EVENTS_HUB]: 4006 };

/** `events-hub` → `EVENTS_HUB`: the prefix of a process's settings (`EVENTS_HUB_PORT`). */
const settingPrefix = (name) => name.toUpperCase().replace(/-/g, '_');

/** The ports the README's settings ask for (`GATEWAY_PORT`, `CATALOG_PORT` …), else the defaults. */
export function portsFromEnv(env = process.env) {
  return Object.fromEntries(Object.entries(DEFAULT_PORTS).map(([name, port]) => [name, Number(env[`${settingPrefix(name)}_PORT`] || port)]));
}

const COLORS = [36, 32, 33, 35, 34, 31, 96];
const CONFIG_ERROR_EXIT = 78;

function entry(name) {
  if (name === 'gateway') return 'gateway/src/main.ts';
  if (name === 'worker') return 'workflows/src/main.ts';
  return `services/${name}/src/main.ts`;
}

function prefixLines(stream, prefix, sink) {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const line of lines) sink(`${prefix} ${line}\n`);
  });
  stream.on('end', () => buffer && sink(`${prefix} ${buffer}\n`));
}

/** Whether `service` answers healthy at `url` (another server on that port, even a healthy one, is not it). */
async function healthy(url, service) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1500) });
    if (!response.ok) return false;
    const body = await response.json().catch(() => null);
    return body?.service === service;
  } catch {
    return false;
  }
}

/**
 * @param {object} o
 * @param {Record<string,string>} o.env  environment shared by every process (DATABASE_URL, NATS_URL, TEMPORAL_ADDRESS…)
 * @param {Record<string,number>} [o.ports]
 * @param {boolean} [o.worker] start the Temporal worker (default true)
 * @param {(line: string) => void} [o.sink] where prefixed log lines go (default stdout)
 */
export async function startSystem({ env, ports = DEFAULT_PORTS, worker = true, sink = (l) => process.stdout.write(l), log = (m) => process.stdout.write(`${m}\n`) }) {
  const children = new Map();
  let stopping = false;
  let failure = null;
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}/graphql`]));
  const eventsHubPort = ports[EVENTS_HUB] ?? DEFAULT_PORTS[EVENTS_HUB];
  const eventsHubUrl = `http://127.0.0.1:${eventsHubPort}`;
  const sharedEnv = {
    ...process.env,
    ...env,
    GATEWAY_PORT: String(ports.gateway),
    ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_PORT`, String(ports[s])])),
    ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_URL`, urls[s]])),
    GATEWAY_URL: `http://127.0.0.1:${ports.gateway}/graphql`,
    EVENTS_HUB_PORT: String(eventsHubPort),
  };
  // The rating path and the charge path allocate many short-lived objects per event: a larger young
  // generation spends less CPU collecting them (usage's process ~8 % less per event in bench:usage,
  // wallets' ~12 %; as in deploy/k8s).
  const NODE_FLAGS = { usage: ['--max-semi-space-size=32'], wallets: ['--max-semi-space-size=32'] };
  function launch(name, index) {
    const color = COLORS[index % COLORS.length];
    const prefix = `\u001b[${color}m[${name.padEnd(11)}]\u001b[0m`;
    const child = spawn(process.execPath, [...(NODE_FLAGS[name] ?? []), '--import', 'tsx', entry(name)], { cwd: REPO_ROOT, env: sharedEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    prefixLines(child.stdout, prefix, sink);
    prefixLines(child.stderr, prefix, sink);
    child.on('exit', (code, signal) => {
      children.delete(name);
      if (stopping) return;
      failure ??= code === CONFIG_ERROR_EXIT ? `${name} stopped on a configuration error (see its line above)` : `${name} exited (code ${code ?? signal})`;
    });
    children.set(name, child);
  }

  async function stop() {
    stopping = true;
    const exits = [...children.values()].map((child) => new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 8000).unref();
    }));
    await Promise.all(exits);
  }

  try {
    SERVICES.forEach(launch);
    launch(EVENTS_HUB, SERVICES.length + 2);
    for (const name of SERVICES) {
      await waitFor(async () => {
        if (failure) throw new Error(failure);
        return healthy(urls[name].replace(/\/graphql$/, '/health'), name);
      }, { timeoutMs: 120_000, what: `${name} to become healthy` });
      log(`${name} is up at ${urls[name]}`);
    }
    await waitFor(async () => {
      if (failure) throw new Error(failure);
      return healthy(`${eventsHubUrl}/health`, EVENTS_HUB);
    }, { timeoutMs: 120_000, what: 'the events hub to become healthy' });
    log(`${EVENTS_HUB} is up at ${eventsHubUrl}/tmf-api/eventManagement/v4/hub`);
    launch('gateway', SERVICES.length);
    if (worker) launch('worker', SERVICES.length + 1);
    await waitFor(async () => {
      if (failure) throw new Error(failure);
      return healthy(`http://127.0.0.1:${ports.gateway}/health`, 'gateway');
    }, { timeoutMs: 60_000, what: 'the gateway to become healthy' });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    gatewayUrl: `http://127.0.0.1:${ports.gateway}/graphql`,
    urls,
    eventsHubUrl,
    stop,
    failed: () => failure,
  };
}
