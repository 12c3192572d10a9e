/**
 * `ledgerline usage import <file> --batch-size <n>`: the option went through `Number(v)`, so
 * `--batch-size abc` was NaN - no batch was ever "full", batches were cut only at 2 MiB and a file
 * of small rows sent 1,001+ records in one request, refused USAGE_BATCH_TOO_LARGE in the middle of
 * the import (after earlier batches were stored). `0`, `-5` and `1.5` were taken too. Now an
 * option that is not a whole number from 1 to 1000 stops the command before anything is sent,
 * with a message naming the option, and a non-zero exit code; `importUsageCsv` refuses the same
 * values itself (`batchSize`, `maxBatches`).
 *
 * The CLI runs as users run it (services/cli/bin/ledgerline.mjs); the usage URL points at a local
 * listener that only counts requests.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importUsageCsv } from '../src/cli/import-csv';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
let server: http.Server;
let url: string;
let requests = 0;
let dir: string;

function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'services/cli/bin/ledgerline.mjs'), ...args], { cwd: root, env: { ...process.env, USAGE_URL: url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function csvFile(name: string, rows: number): string {
  const file = path.join(dir, name);
  const lines = ['event_id,line_id,usage_type,quantity,occurred_at'];
  for (let i = 1; i <= rows; i++) lines.push(`e${i},lin_x,SMS,1,2026-03-01T10:00:00Z`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gaps8-csv-'));
  server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'not a usage service' }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ledgerline usage import: numeric options', () => {
  it.each(['abc', '0', '-5', '1.5', '1001', '10abc', ' '])('--batch-size %j stops before anything is sent, naming the option', async (value) => {
    const file = csvFile(`bad-${encodeURIComponent(value)}.csv`, 3);
    const before = requests;
    const r = await cli('usage', 'import', file, '--url', url, '--batch-size', value);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--batch-size');
    expect(r.stderr).toMatch(/whole number from 1 to 1000/);
    expect(requests).toBe(before);
    expect(fs.existsSync(`${file}.checkpoint`) || fs.readdirSync(dir).some((f) => f.startsWith(path.basename(file)) && f !== path.basename(file))).toBe(false);
  }, 60_000);

  it('a valid --batch-size is taken (the listener sees the import try to send)', async () => {
    const file = csvFile('good.csv', 3);
    const before = requests;
    const r = await cli('usage', 'import', file, '--url', url, '--batch-size', '2');
    expect(r.status).not.toBe(0); // the listener is no usage service
    expect(requests).toBeGreaterThan(before);
    expect(r.stderr).not.toContain('--batch-size');
  }, 60_000);

  it('importUsageCsv refuses such values itself, before the sink sees a batch', async () => {
    const file = csvFile('api.csv', 3);
    let sent = 0;
    const sink = async () => {
      sent++;
      return { rated: 0, rejected: 0, duplicates: 0 };
    };
    for (const batchSize of [Number.NaN, 0, -1, 1.5, 1001, Number.POSITIVE_INFINITY]) {
      await expect(importUsageCsv(file, { sink, batchSize, progress: false })).rejects.toThrow(/batchSize must be a whole number from 1 to 1000/);
    }
    for (const maxBatches of [Number.NaN, 0, 2.5]) {
      await expect(importUsageCsv(file, { sink, maxBatches, progress: false })).rejects.toThrow(/maxBatches must be a whole number/);
    }
    expect(sent).toBe(0);
  });
});
