/**
 * `ledgerline usage import <file>` (issue 6, review 2026-11-29): how a run stops, where its
 * checkpoint lives, and which source it belongs to. Each case failed on the code before.
 *
 * 1. A batch that fails partway (usage down) threw out of the import: the CLI exited 1 with no
 *    JSON report of what was already sent, and the progress bar was never stopped (nor on Ctrl-C),
 *    leaving the terminal's cursor hidden. Now the bar is stopped, the report of what was sent so
 *    far says where the next run resumes, the exit code is 1 (130 after SIGINT), and a rerun resumes.
 * 2. The checkpoint was written next to the CSV only: in a folder the importer cannot write, every
 *    run sent batch 1 and failed with EACCES, never progressing. Now that is found before anything
 *    is sent, and `--checkpoint <path>` puts the checkpoint elsewhere.
 * 3. The checkpoint did not record the source: a resume under another `--source` skipped lines
 *    never sent under it. `--source ""` became `api`; a default `csv:<name>` over 64 characters
 *    failed at the first batch.
 *
 * Real usage service (PostgreSQL); the CLI runs as users run it, its usage URL a local proxy to
 * the service that fails or holds the batch after the ones it forwards.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DEV_INTERNAL_SECRET, ManualClock, refusedPort, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { checkpointPath, graphqlSink, importUsageCsv, type UsageSink } from '../src/cli/import-csv';
import { repoRoot, runCli } from '../../cli/test/cli-process';
import { filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
let proxy: http.Server;
let proxyBase: string;
const run = Math.random().toString(36).slice(2, 8);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-csv-stops-'));
const lineId = `lin_csvst${run}`;
const HEADER = 'event_id,line_id,usage_type,quantity,occurred_at,called_number';

/** Per proxy path: how many requests go through to usage, and what happens to the ones after. */
interface Plan {
  forward: number;
  after: 'fail' | 'hold';
  seen: number;
  onHold?: () => void;
}
const plans = new Map<string, Plan>();
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100006061', account: `acc_csvst${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const plan = plans.get(req.url ?? '');
      if (!plan) return void res.writeHead(404).end();
      plan.seen += 1;
      if (plan.seen <= plan.forward) {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection', 'transfer-encoding'].includes(k)),
        ) as Record<string, string>;
        void fetch(svc.url, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(await r.text());
        });
      } else if (plan.after === 'fail') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'usage is down' }] }));
      } else {
        held.push(res);
        plan.onHold?.();
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyBase = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  // The runs as another user (below) read the files in it.
  fs.chmodSync(dir, 0o755);
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await new Promise((resolve) => proxy?.close(resolve));
  await db?.end();
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = (prefix: string, n: number) =>
  [HEADER, ...Array.from({ length: n }, (_, i) => `${prefix}${run}-${i + 1},${lineId},VOICE,${30 + i},2026-03-10T10:${String(i).padStart(2, '0')}:00Z,+4930123456`), ''].join('\n');

const write = (name: string, text: string, inDir = dir) => {
  const file = path.join(inDir, name);
  fs.writeFileSync(file, text);
  return file;
};

const real = () => graphqlSink(svc.url, DEV_INTERNAL_SECRET);
const env = () => ({ ...process.env, LEDGERLINE_INTERNAL_SECRET: DEV_INTERNAL_SECRET, USAGE_URL: svc.url });

/** A proxy path that forwards `forward` requests to usage, then fails or holds the next. */
function via(name: string, forward: number, after: Plan['after'], onHold?: () => void): { url: string; plan: Plan } {
  const plan: Plan = { forward, after, seen: 0, onHold };
  plans.set(`/graphql/${name}`, plan);
  return { url: `${proxyBase}/graphql/${name}`, plan };
}

const reportIn = (stdout: string) => JSON.parse(/\{"file".*\}/.exec(stdout)![0]) as Record<string, unknown>;

describe('a run that stops partway', () => {
  it('usage down at the second batch: the import returns what it sent and where it resumes; a rerun resumes there', async () => {
    const source = `csv-st1-${run}`;
    const file = write('down.csv', rows('dn', 6));
    // A port nothing listens on, which no listen(0) can be given: usage down.
    const port = await refusedPort();
    const down = graphqlSink(`http://127.0.0.1:${port}/graphql`, DEV_INTERNAL_SECRET);
    let calls = 0;
    const sink: UsageSink = (s, r) => (++calls === 1 ? real()(s, r) : down(s, r));
    const first = await importUsageCsv(file, { sink, source, batchSize: 3, progress: false });
    expect(first).toMatchObject({ complete: false, rated: 3, rejected: 0, lastLine: 4 });
    expect(first.stopped).toMatch(/lines 5–7: fetch failed \(ECONNREFUSED\).*resumes after line 4/);
    const second = await importUsageCsv(file, { sink: real(), source, batchSize: 3, progress: false });
    expect(second).toMatchObject({ complete: true, resumedAfterLine: 4, rated: 3, duplicates: 0 });
  });

  it('the CLI prints the report of what was sent, exits 1, and the next run resumes', async () => {
    const source = `csv-st2-${run}`;
    const file = write('down-cli.csv', rows('dc', 6));
    const { url } = via('down-cli', 1, 'fail');
    const first = await runCli(['usage', 'import', file, '--url', url, '--batch-size', '3', '--source', source], env());
    expect(first.status).toBe(1);
    expect(reportIn(first.stdout)).toMatchObject({ complete: false, rated: 3, lastLine: 4 });
    expect(first.stderr).toMatch(/usage is down.*resumes after line 4/s);
    const second = await runCli(['usage', 'import', file, '--batch-size', '3', '--source', source], env());
    expect(second.status).toBe(0);
    expect(reportIn(second.stdout)).toMatchObject({ complete: true, resumedAfterLine: 4, rated: 3 });
  }, 60_000);

  it('Ctrl-C in a terminal: the bar is stopped (cursor shown again), the report printed, exit 130; the next run resumes', async () => {
    const source = `csv-st3-${run}`;
    const file = write('sigint.csv', rows('si', 6));
    const terminal: { child?: ReturnType<typeof spawn> } = {};
    // ^C typed when the second batch is in flight.
    const { url } = via('sigint', 1, 'hold', () => terminal.child!.stdin!.write('\x03'));
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, path.join(repoRoot, 'services/cli/bin/ledgerline.mjs'), 'usage', 'import', file, '--url', url, '--batch-size', '3', '--source', source]
      .map(q)
      .join(' ');
    // A terminal of its own (`script`): the bar draws only on one, and ^C typed there is SIGINT.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: repoRoot, env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
    terminal.child = child;
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status).toBe(130);
    expect(out).toContain('\x1b[?25l');
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    expect(reportIn(out)).toMatchObject({ complete: false, interrupted: true, rated: 3, lastLine: 4 });
    expect(out).toMatch(/interrupted.*resumes after line 4/s);
    const second = await runCli(['usage', 'import', file, '--batch-size', '3', '--source', source], env());
    expect(reportIn(second.stdout)).toMatchObject({ complete: true, resumedAfterLine: 4 });
    // The held batch never reached usage: the rerun sent it as new usage.
    expect(reportIn(second.stdout).rated).toBe(3);
  }, 60_000);
});

describe('where the checkpoint lives', () => {
  it('a CSV in a folder the importer cannot write: refused before anything is sent; --checkpoint puts it elsewhere', async () => {
    const source = `csv-st4-${run}`;
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked);
    const file = write('cdr.csv', rows('lk', 4), locked);
    fs.chmodSync(locked, 0o555);
    const elsewhere = path.join(dir, 'checkpoints');
    fs.mkdirSync(elsewhere, { mode: 0o777 });
    fs.chmodSync(elsewhere, 0o777);
    // root writes anywhere: the runs are made as `nobody` then.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const cli = (args: string[], name: string) => {
      const { url, plan } = via(name, 10, 'fail');
      return new Promise<{ status: number | null; stdout: string; stderr: string; sent: number }>((resolve, reject) => {
        const c = spawn(process.execPath, [path.join(repoRoot, 'services/cli/bin/ledgerline.mjs'), 'usage', 'import', file, '--url', url, '--source', source, ...args], {
          cwd: repoRoot,
          env: env(),
          ...asUser,
        });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('error', reject);
        c.on('close', (status) => resolve({ status, stdout, stderr, sent: plan.seen }));
      });
    };
    const refused = await cli(['--batch-size', '2'], 'locked');
    expect({ status: refused.status, sent: refused.sent }).toEqual({ status: 1, sent: 0 });
    expect(refused.stderr).toMatch(/cannot write the checkpoint .*cdr\.csv\.checkpoint\.json.*nothing was sent.*--checkpoint <path>/s);

    const checkpoint = path.join(elsewhere, 'cdr.checkpoint.json');
    const first = await cli(['--batch-size', '2', '--checkpoint', checkpoint], 'elsewhere');
    expect({ status: first.status, report: reportIn(first.stdout) }).toMatchObject({ status: 0, report: { complete: true, rated: 4 } });
    expect(fs.existsSync(checkpoint)).toBe(true);
    expect(fs.readdirSync(locked)).toEqual(['cdr.csv']);
    const again = await cli(['--batch-size', '2', '--checkpoint', checkpoint], 'elsewhere-again');
    expect(reportIn(again.stdout)).toMatchObject({ complete: true, resumedAfterLine: 5 });
  }, 60_000);

  it('importUsageCsv: a checkpoint place that cannot be written is refused before the sink sees a batch', async () => {
    const file = write('nowhere.csv', rows('nw', 2));
    let sent = 0;
    const sink: UsageSink = async () => {
      sent++;
      return { rated: 0, rejected: 0, duplicates: 0 };
    };
    await expect(importUsageCsv(file, { sink, checkpoint: path.join(dir, 'missing', 'cp.json'), progress: false })).rejects.toThrow(
      /cannot write the checkpoint .*missing.*cp\.json.*nothing was sent/,
    );
    expect(sent).toBe(0);
  });
});

describe('the source and the checkpoint', () => {
  it('a resume under another source is refused (its lines were never sent under it); --restart starts that source from the first line', async () => {
    const file = write('switch.csv', rows('sw', 6));
    const [a, b] = [`csv-st5a-${run}`, `csv-st5b-${run}`];
    const first = await importUsageCsv(file, { sink: real(), source: a, batchSize: 3, maxBatches: 1, progress: false });
    expect(first).toMatchObject({ complete: false, lastLine: 4 });
    let sent = 0;
    const counting: UsageSink = (s, r) => {
      sent++;
      return real()(s, r);
    };
    await expect(importUsageCsv(file, { sink: counting, source: b, batchSize: 3, progress: false })).rejects.toThrow(
      new RegExp(`checkpoint .* source "${a}".* not "${b}".*--restart`),
    );
    expect(sent).toBe(0);
    const fresh = await importUsageCsv(file, { sink: real(), source: b, batchSize: 3, restart: true, progress: false });
    expect(fresh).toMatchObject({ complete: true, resumedAfterLine: 0, rated: 6 });
    const stored = await db.query(`select source, count(*)::int as n from usage_record where source in ($1, $2) group by source order by source`, [a, b]);
    expect(stored.rows).toEqual([
      { source: a, n: 3 },
      { source: b, n: 6 },
    ]);
  });

  it('--source "" (or blanks, or over 64 characters) is refused before anything is sent, naming the option', async () => {
    const file = write('bad-source.csv', rows('bs', 2));
    const cases = ['', '   ', 'x'.repeat(65)];
    const runs = await Promise.all(
      cases.map((value, i) => {
        const { url, plan } = via(`bad-source-${i}`, 10, 'fail');
        return runCli(['usage', 'import', file, '--url', url, '--source', value], env()).then((r) => ({ ...r, sent: plan.seen }));
      }),
    );
    for (const r of runs) {
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/--source/);
      expect(r.sent).toBe(0);
    }
    expect(runs[0]!.stderr).toMatch(/empty/);
    expect(runs[2]!.stderr).toMatch(/64 characters/);
    for (const source of cases) await expect(importUsageCsv(file, { sink: real(), source, progress: false })).rejects.toThrow(/source/);
    expect(fs.existsSync(checkpointPath(file))).toBe(false);
  });

  it('a default csv:<name> over 64 characters is shortened the same way every run (a hash of the whole name kept)', async () => {
    const name = `${'a-very-long-mediation-export-name-'.repeat(3)}${run}.csv`;
    const file = write(name, rows('ln', 2));
    const first = await importUsageCsv(file, { sink: real(), batchSize: 3, progress: false });
    expect(first).toMatchObject({ complete: true, rated: 2 });
    const again = await importUsageCsv(file, { sink: real(), batchSize: 3, restart: true, progress: false });
    expect(again).toMatchObject({ complete: true, duplicates: 2 });
    const stored = (await db.query(`select distinct source from usage_record where event_id like $1`, [`ln${run}-%`])).rows as { source: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.source.length).toBeLessThanOrEqual(64);
    expect(stored[0]!.source).toMatch(/^csv:a-very-long-mediation-export-name-.*~[0-9a-f]{8}$/);
  });
});
