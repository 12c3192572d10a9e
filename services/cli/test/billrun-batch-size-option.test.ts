/**
 * `ledgerline billrun start <cycleDate> --batch-size <n>`: the option went through `Number(v)`, so
 * `abc` (NaN), `0`, `1.5` or `99999` were sent to the gateway as they were (NaN as null: invoicing's
 * default 500, the typo unnoticed). Now it is checked like the usage import's (`wholeNumber`, shared
 * in services/cli/src/options.ts): a whole number from 1 to invoicing's bound (`MAX_BILL_RUN_BATCH`,
 * what `startBillRun` accepts), or the command stops with exit code 1, naming the option, before
 * anything is sent.
 *
 * The CLI runs as users run it (services/cli/bin/ledgerline.mjs); GATEWAY_URL points at a local
 * listener that records the requests and answers as no gateway would.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBillRun } from '../../invoicing/src/application/bill-run';
import { MAX_BILL_RUN_BATCH } from '../../invoicing/src/domain/bill-run-batch';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
let server: http.Server;
let url: string;
const bodies: { variables?: { i?: { batchSize?: unknown; cycleDate?: string } } }[] = [];

function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'services/cli/bin/ledgerline.mjs'), ...args], { cwd: root, env: { ...process.env, GATEWAY_URL: url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body || '{}'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'not a gateway' }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const INVALID = ['abc', '0', '-5', '1.5', '10001', '99999', '10abc', ' ', '1e3'];
const VALID: [string, number][] = [
  ['1', 1],
  ['250', 250],
  [String(MAX_BILL_RUN_BATCH), MAX_BILL_RUN_BATCH],
];

// Each run names its own cycle date, so the request it sent (or did not send) is known by that date: the CLI
// processes (~3 s each, most of it tsx starting) run at the same time instead of one after another.
const cycleDateOf = (i: number) => `2026-11-${String(i + 1).padStart(2, '0')}`;
const sentFor = (cycleDate: string) => bodies.filter((b) => b.variables?.i?.cycleDate === cycleDate);
let runs: Awaited<ReturnType<typeof cli>>[];

describe('ledgerline billrun start: --batch-size', () => {
  beforeAll(async () => {
    const values = [...INVALID, ...VALID.map(([v]) => v)];
    runs = new Array(values.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < values.length; i = next++) runs[i] = await cli('billrun', 'start', cycleDateOf(i), '--no-follow', '--batch-size', values[i]);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 120_000);

  it('the bound is the one startBillRun accepts: one more is refused there too', async () => {
    expect(MAX_BILL_RUN_BATCH).toBe(10_000);
    // Refused before the database is touched, so no database is needed here.
    const refused = startBillRun(null as never, { cycleDate: '2026-11-01', batchSize: MAX_BILL_RUN_BATCH + 1, now: new Date('2026-11-02T00:00:00Z') });
    await expect(refused).rejects.toMatchObject({ code: 'BILL_RUN_BATCH_SIZE_INVALID', details: { field: 'input.batchSize' } });
  });

  it.each(INVALID.map((value, i) => [value, i] as const))('--batch-size %j stops with exit code 1 before anything is sent, naming the option', (value, i) => {
    const r = runs[i];
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--batch-size');
    expect(r.stderr).toContain(`whole number from 1 to ${MAX_BILL_RUN_BATCH}`);
    expect(sentFor(cycleDateOf(i))).toHaveLength(0);
  });

  it.each(VALID.map(([value, sent], k) => [value, sent, INVALID.length + k] as const))('a valid --batch-size %j is sent as the number %d', (value, sent, i) => {
    const r = runs[i];
    expect(r.status).not.toBe(0); // the listener is no gateway
    expect(r.stderr).not.toContain('--batch-size');
    const requests = sentFor(cycleDateOf(i));
    expect(requests).toHaveLength(1);
    expect(requests[0].variables?.i?.batchSize).toBe(sent);
  });
});
