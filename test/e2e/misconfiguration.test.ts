import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../deploy/local/system.mjs';

/** Starts one process the way `npm start` does and collects how it ends. */
function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function expectOneLine(stderr: string, setting: string) {
  // Node's own runtime warnings about a dependency ("(node:…) …Warning", "(Use `node --trace-…") are not ours.
  const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('[migrator]') && !/^\((node:\d+|Use `node --trace-)/.test(l));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toContain(setting);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('a misconfiguration stops start-up with one line naming the setting', () => {
  it('an unreachable DATABASE_URL', async () => {
    const { code, stderr } = await run('services/catalog/src/main.ts', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test', CATALOG_PORT: '0' });
    expect(code).toBe(78);
    expectOneLine(stderr, 'DATABASE_URL');
    expect(stderr).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
  });

  it('a DATABASE_URL that is not a PostgreSQL URL', async () => {
    const { code, stderr } = await run('services/wallets/src/main.ts', { DATABASE_URL: 'mysql://localhost/x' });
    expect(code).toBe(78);
    expectOneLine(stderr, 'DATABASE_URL');
  });

  it('a port already in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { code, stderr } = await run('gateway/src/main.ts', { GATEWAY_PORT: String(port) });
      expect(code).toBe(78);
      expectOneLine(stderr, 'GATEWAY_PORT');
      expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('production with the public development secrets (or the k8s template placeholder)', async () => {
    const gateway = await run('gateway/src/main.ts', { NODE_ENV: 'production', JWT_SECRET: 'change-me', GATEWAY_PORT: '0' });
    expect(gateway.code).toBe(78);
    expectOneLine(gateway.stderr, 'JWT_SECRET');
    const env = { ...process.env, NODE_ENV: 'production', CATALOG_PORT: '0' } as Record<string, string>;
    delete env.LEDGERLINE_INTERNAL_SECRET;
    const catalog = await run('services/catalog/src/main.ts', env);
    expect(catalog.code).toBe(78);
    expectOneLine(catalog.stderr, 'LEDGERLINE_INTERNAL_SECRET');
  });

  it('an unreachable NATS_URL', async () => {
    const { code, stderr } = await run('services/usage/src/main.ts', { NATS_URL: 'nats://127.0.0.1:1', USAGE_PORT: '0', LEDGERLINE_DATA_DIR: `${REPO_ROOT}/.data/e2e-misconfig` });
    expect(code).toBe(78);
    expectOneLine(stderr, 'NATS_URL');
  });
});

describe('graceful shutdown', () => {
  it('a service on SQLite answers, then stops on SIGTERM within seconds with exit code 0', async () => {
    const dataDir = `${REPO_ROOT}/.data/e2e-shutdown-${process.pid}`;
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const env = { ...process.env, LEDGERLINE_DATA_DIR: dataDir, CATALOG_PORT: String(port), LOG_LEVEL: 'warn' } as Record<string, string>;
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/catalog/src/main.ts'], { cwd: REPO_ROOT, env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let answer: unknown = null;
      for (let i = 0; i < 120 && !answer; i++) {
        await new Promise((r) => setTimeout(r, 500));
        answer = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ plans { totalCount } }"}' })
          .then((r) => r.json())
          .catch(() => null);
      }
      expect(answer).toEqual({ data: { plans: { totalCount: 0 } } });
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
