/**
 * The CSV import (`src/cli/import-csv.ts`) and a file whose last line has no line break: the
 * mediation is still writing it, or the copy was cut short. That line was imported as a complete
 * row, so a cut quantity (`1234` of `123456`) was rated and charged; once the file was complete,
 * the whole row came again under another id (`line<N>:<hash of fields>`, or, with an event_id
 * column, as a duplicate of the cut one: the full quantity never charged).
 *
 * Now such a line is held back: not sent, the checkpoint stops before it, the run says so
 * (`complete: false`, `stopped`), and the next run resumes at that line once it is complete and
 * imports it exactly once. `final: true` (the CLI's `--final`) takes it as complete, for a file
 * known to end without a line break.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { checkpointPath, graphqlSink, importUsageCsv, type UsageSink } from '../src/cli/import-csv';
import { filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-csv-unterminated-'));
const lineId = `lin_csvu${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007982', account: `acc_csvu${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sink = (): UsageSink => graphqlSink(svc.url, DEV_INTERNAL_SECRET);
const stored = async (source: string) =>
  (await db.query(`select event_id, status, quantity::text as quantity from usage_record where source = $1 order by occurred_at`, [source])).rows.map(
    (r: { event_id: string; status: string; quantity: string }) => ({ status: r.status, quantity: Number(r.quantity).toString() }),
  );

// Quantity last, so a cut line is still a row of the header's width: a shorter quantity, nothing malformed.
const HEADER = 'line_id,usage_type,occurred_at,called_number,quantity';
const row = (minute: number, quantity: string) => `${lineId},VOICE,2026-03-10T10:0${minute}:00Z,+4930123456,${quantity}`;

describe('CSV import: a last line without a line break', () => {
  it('is held back (not rated, checkpoint before it); the next run, once the line is complete, imports it exactly once', async () => {
    const source = `csvu-${run}`;
    const file = path.join(dir, 'growing.csv');
    // The mediation has written "123456" as far as "1234" when the import runs.
    fs.writeFileSync(file, `${HEADER}\n${row(1, '60')}\n${row(2, '1234')}`);
    const first = await importUsageCsv(file, { sink: sink(), source, progress: false });
    expect({ complete: first.complete, rated: first.rated, lastLine: first.lastLine }).toEqual({ complete: false, rated: 1, lastLine: 2 });
    expect(first.stopped).toMatch(/line 3 .*no line break.*not imported.*run the import again when the file is complete.*--final/);
    expect(await stored(source)).toEqual([{ status: 'RATED', quantity: '60' }]);
    const checkpoint = JSON.parse(fs.readFileSync(checkpointPath(file), 'utf8')) as { lineOffset: number; byteOffset: number };
    expect(checkpoint).toMatchObject({ lineOffset: 2, byteOffset: Buffer.byteLength(`${HEADER}\n${row(1, '60')}\n`) });

    // The mediation finishes the line. The next run resumes at it (the bytes before it hash as they did) and rates it once.
    fs.appendFileSync(file, '56\n');
    const second = await importUsageCsv(file, { sink: sink(), source, progress: false });
    expect(second).toMatchObject({ complete: true, resumedAfterLine: 2, lastLine: 3, rated: 1, duplicates: 0, rejected: 0 });
    expect(second.stopped).toBeUndefined();
    expect(await stored(source)).toEqual([
      { status: 'RATED', quantity: '60' },
      { status: 'RATED', quantity: '123456' },
    ]);

    // Once more: nothing left to do; from the first line: all duplicates.
    expect(await importUsageCsv(file, { sink: sink(), source, progress: false })).toMatchObject({ complete: true, resumedAfterLine: 3, rated: 0, duplicates: 0 });
    expect(await importUsageCsv(file, { sink: sink(), source, restart: true, progress: false })).toMatchObject({ complete: true, rated: 0, duplicates: 2 });
    expect(await stored(source)).toHaveLength(2);
  });

  it('a file holding only a header cut short is not read as a header (nothing refused, nothing sent)', async () => {
    const file = path.join(dir, 'header-only.csv');
    fs.writeFileSync(file, 'line_id,usage_ty');
    const sent: unknown[] = [];
    const report = await importUsageCsv(file, { sink: async (_s, records) => (sent.push(...records), { rated: 0, rejected: 0, duplicates: 0 }), progress: false });
    expect({ complete: report.complete, sent: sent.length }).toEqual({ complete: false, sent: 0 });
    expect(report.stopped).toMatch(/line 1 .*no line break/);
  });

  it('with final: true the last line is taken as it is (a file known to end without a line break)', async () => {
    const source = `csvf-${run}`;
    const file = path.join(dir, 'final.csv');
    fs.writeFileSync(file, `${HEADER}\n${row(3, '30')}\n${row(4, '45')}`);
    const report = await importUsageCsv(file, { sink: sink(), source, final: true, progress: false });
    expect(report).toMatchObject({ complete: true, rated: 2, lastLine: 3 });
    expect(report.stopped).toBeUndefined();
    expect(await stored(source)).toEqual([
      { status: 'RATED', quantity: '30' },
      { status: 'RATED', quantity: '45' },
    ]);
  });

  it('trailing blanks without a line break are not imported and the checkpoint stays before them', async () => {
    const source = `csvb-${run}`;
    const file = path.join(dir, 'blank-tail.csv');
    fs.writeFileSync(file, `${HEADER}\n${row(5, '10')}\n\n  `);
    const first = await importUsageCsv(file, { sink: sink(), source, progress: false });
    expect(first).toMatchObject({ complete: true, rated: 1 });
    // The writer goes on: the blanks were the start of a row.
    fs.appendFileSync(file, `${row(6, '20')}\n`);
    const second = await importUsageCsv(file, { sink: sink(), source, progress: false });
    expect(second).toMatchObject({ complete: true, rated: 1, duplicates: 0 });
    expect(second.resumedAfterLine).toBeGreaterThanOrEqual(2);
    expect(await stored(source)).toEqual([
      { status: 'RATED', quantity: '10' },
      { status: 'RATED', quantity: '20' },
    ]);
  });

  it('ledgerline usage import: exit 1 with the reason on stderr; --final takes the line', () => {
    const file = path.join(dir, 'cli-header.csv');
    // A header with no line break and no rows: nothing to send either way (no usage service needed).
    fs.writeFileSync(file, HEADER);
    const root = path.resolve(import.meta.dirname, '..', '..', '..');
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'services/cli/bin/ledgerline.mjs'), 'usage', 'import', file, '--url', 'http://127.0.0.1:9/graphql', ...args], { cwd: root, encoding: 'utf8' });
    const held = cli();
    expect({ status: held.status, stderr: held.stderr }).toMatchObject({ status: 1, stderr: expect.stringMatching(/line 1 .*no line break.*--final/) });
    const final = cli('--final');
    expect({ status: final.status, stderr: final.stderr }).toEqual({ status: 0, stderr: '' });
  }, 60_000);
});
