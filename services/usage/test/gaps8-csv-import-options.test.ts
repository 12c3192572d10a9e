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
 * listener that only counts requests, by URL path: each run has its own, so the runs (seconds each,
 * most of it tsx starting) go side by side (services/cli/test/cli-process.ts) and each counts its own.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importUsageCsv } from '../src/cli/import-csv';
import { runCli, type CliRun } from '../../cli/test/cli-process';

let server: http.Server;
let base: string;
/** Requests received, by URL path (one path per run). */
const requests = new Map<string, number>();
let dir: string;

/** `ledgerline usage import <file> --url <its own path> --batch-size <value>`, and the requests it sent. */
async function importRun(name: string, value: string): Promise<CliRun & { file: string; sent: number }> {
  const file = csvFile(`${name}.csv`, 3);
  const url = `${base}/graphql/${name}`;
  const r = await runCli(['usage', 'import', file, '--url', url, '--batch-size', value], { ...process.env, USAGE_URL: url });
  return { ...r, file, sent: requests.get(`/graphql/${name}`) ?? 0 };
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
    requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'not a usage service' }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

const INVALID = ['abc', '0', '-5', '1.5', '1001', '10abc', ' '];
let runs: Promise<Awaited<ReturnType<typeof importRun>>>[];

describe('ledgerline usage import: numeric options', () => {
  beforeAll(() => {
    runs = [...INVALID.map((value) => importRun(`bad-${encodeURIComponent(value)}`, value)), importRun('good', '2')];
  });

  it.each(INVALID.map((value, i) => [value, i] as const))('--batch-size %j stops before anything is sent, naming the option', async (_value, i) => {
    const r = await runs[i]!;
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--batch-size');
    expect(r.stderr).toMatch(/whole number from 1 to 1000/);
    expect(r.sent).toBe(0);
    expect(fs.existsSync(`${r.file}.checkpoint`) || fs.readdirSync(dir).some((f) => f.startsWith(path.basename(r.file)) && f !== path.basename(r.file))).toBe(false);
  }, 60_000);

  it('a valid --batch-size is taken (the listener sees the import try to send)', async () => {
    const r = await runs[INVALID.length]!;
    expect(r.status).not.toBe(0); // the listener is no usage service
    expect(r.sent).toBeGreaterThan(0);
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
