/**
 * The CSV import (`src/cli/import-csv.ts`) with broken files: it must neither lose rows nor take
 * new rows for old ones. (Written as a review of the import; each case failed on the code before.)
 *
 * - A row whose field opens a quote it never closes: csv-parse reads on to the end of the file
 *   looking for the closing quote, and every row after it is swallowed into one skipped record
 *   ("Quote Not Closed"). The import reports `complete` and those rows are neither rated nor
 *   rejected. The skipped row itself is stored with the parser's message only, not its text, so
 *   it cannot be repaired with reprocessRejected either.
 * - Rows without an event_id column get `<file name>:<line>` as their id. A mediation that writes
 *   a new `cdr.csv` every day sends new usage under yesterday's ids: every row is taken as a
 *   duplicate and never charged.
 * - A row with a field larger than a recordUsage request may be (5 MB) fails its batch with a
 *   413 on every run: the import can never get past it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { graphqlSink, importUsageCsv, KEPT_OF_LONG_ROW_BYTES, MAX_ROW_BYTES, type UsageSink } from '../src/cli/import-csv';
import { filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-review-csv-'));
const lineId = `lin_csvr${run}`;
const HEADER = 'event_id,line_id,usage_type,quantity,occurred_at,called_number';

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007981', account: `acc_csvr${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sink = () => graphqlSink(svc.url, DEV_INTERNAL_SECRET);
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
};
const recordsOf = async (source: string) =>
  (await db.query(`select event_id, status, rejection_code, raw from usage_record where source = $1 order by event_id`, [source])).rows as {
    event_id: string;
    status: string;
    rejection_code: string | null;
    raw: string | null;
  }[];

describe('CSV import of broken files', () => {
  it('a row that opens a quote it never closes is rejected on its own: the rows after it are still imported', async () => {
    const source = `csvq-${run}`;
    const file = write(
      'quotes.csv',
      [
        HEADER,
        `q1,${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456`,
        `q2,${lineId},VOICE,"30,2026-03-10T10:01:00Z,+4930123456`,
        `q3,${lineId},VOICE,30,2026-03-10T10:02:00Z,+4930123456`,
        `q4,${lineId},VOICE,30,2026-03-10T10:03:00Z,+4930123456`,
        `q5,${lineId},VOICE,30,2026-03-10T10:04:00Z,+4930123456`,
        '',
      ].join('\n'),
    );
    const report = await importUsageCsv(file, { sink: sink(), source, progress: false });
    expect(report.complete).toBe(true);
    const stored = await recordsOf(source);
    expect(stored.filter((r) => r.status === 'RATED').map((r) => r.event_id)).toEqual(['q1', 'q3', 'q4', 'q5']);
    expect(stored.filter((r) => r.status === 'REJECTED')).toHaveLength(1);
  });

  it('a row with broken quoting is stored REJECTED with its own text, so it can be repaired', async () => {
    const source = `csvt-${run}`;
    const file = write(
      'text.csv',
      [HEADER, `t1,${lineId},VOI"CE,30,2026-03-10T10:00:00Z,+4930123456`, `t2,${lineId},VOICE,30,2026-03-10T10:01:00Z,+4930123456`, ''].join('\n'),
    );
    await importUsageCsv(file, { sink: sink(), source, progress: false });
    const [rejected] = (await recordsOf(source)).filter((r) => r.status === 'REJECTED');
    expect(rejected?.rejection_code).toBe('RECORD_MALFORMED');
    // The row as it was in the file (its quantity and time are what a repair needs).
    expect(rejected?.raw).toContain('2026-03-10T10:00:00Z');
  });

  it('a row with a field too large for one request is rejected; the rows around it are imported', async () => {
    const source = `csvh-${run}`;
    const huge = '9'.repeat(6 * 1024 * 1024);
    const file = write(
      'huge.csv',
      [
        HEADER,
        `h1,${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456`,
        `h2,${lineId},VOICE,30,2026-03-10T10:01:00Z,${huge}`,
        `h3,${lineId},VOICE,30,2026-03-10T10:02:00Z,+4930123456`,
        '',
      ].join('\n'),
    );
    const report = await importUsageCsv(file, { sink: sink(), source, progress: false }).catch((error: Error) => ({ error: error.message.slice(0, 200) }));
    expect(report).toMatchObject({ complete: true, rated: 2, rejected: 1 });
    const [rejected] = (await recordsOf(source)).filter((r) => r.status === 'REJECTED');
    expect(rejected?.rejection_code).toBe('RECORD_MALFORMED');
    // What is kept of it: the reason, its first and last bytes (the fields before the huge one).
    expect(rejected?.raw).toContain(`over the limit of ${MAX_ROW_BYTES}`);
    expect(rejected?.raw).toContain(`h2,${lineId},VOICE,30,2026-03-10T10:01:00Z,`);
    expect(rejected?.raw?.length).toBeLessThan(2 * KEPT_OF_LONG_ROW_BYTES + 1000);
  });

  it('splits batches by size: rows of 60 kB each are sent in requests the subgraph accepts, each kept whole', async () => {
    const source = `csvs-${run}`;
    const rows = Array.from({ length: 120 }, (_, i) => `s${i},${lineId},VOICE,30,2026-03-10T10:00:00Z,"${String(i).padEnd(60_000, '7')}`);
    const file = write('sizes.csv', [HEADER, ...rows, `s-ok,${lineId},VOICE,30,2026-03-10T10:05:00Z,+4930123456`, ''].join('\n'));
    const requestBytes: number[] = [];
    const forward = sink();
    const measuring: UsageSink = (src, records) => {
      requestBytes.push(Buffer.byteLength(JSON.stringify(records)));
      return forward(src, records);
    };
    expect(await importUsageCsv(file, { sink: measuring, source, progress: false })).toMatchObject({ complete: true, rated: 1, rejected: 120 });
    expect(requestBytes.length).toBeGreaterThan(1);
    expect(Math.max(...requestBytes)).toBeLessThan(5 * 1024 * 1024);
    const stored = await recordsOf(source);
    expect(stored.find((r) => r.status === 'REJECTED')?.raw?.length).toBeGreaterThan(60_000);
  });

  it('a row with more or fewer fields than the header, or a value under a column without a name, is rejected with its text', async () => {
    const source = `csvc-${run}`;
    const file = write(
      'columns.csv',
      [
        `${HEADER},`,
        `c1,${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456,`,
        `c2,${lineId},VOICE,30,2026-03-10T10:01:00Z,+4930123456,,extra`,
        `c3,${lineId},VOICE,30,2026-03-10T10:02:00Z`,
        `c4,${lineId},VOICE,30,2026-03-10T10:03:00Z,+4930123456,cell-17`,
        '',
      ].join('\n'),
    );
    expect(await importUsageCsv(file, { sink: sink(), source, progress: false })).toMatchObject({ complete: true, rated: 1, rejected: 3 });
    const rejected = (await recordsOf(source)).filter((r) => r.status === 'REJECTED');
    expect(rejected.map((r) => r.rejection_code)).toEqual(['RECORD_MALFORMED', 'RECORD_MALFORMED', 'RECORD_MALFORMED']);
    for (const id of ['c2', 'c3', 'c4']) expect(rejected.some((r) => r.raw?.includes(`${id},${lineId},VOICE,30,`))).toBe(true);
    expect(rejected.map((r) => r.raw).join('\n')).toMatch(
      /the row has 8 fields, the header 7 columns[\s\S]*the row has 5 fields, the header 7 columns[\s\S]*field 7 has a value, but its column has no name/,
    );
  });

  it('a header naming a column that is not a usage field stops the import before anything is sent, unless the column is ignored', async () => {
    const source = `csvu-${run}`;
    const file = write('unknown.csv', [`${HEADER},start_time`, `u1,${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456,2026-03-10T10:00:00Z`, ''].join('\n'));
    await expect(importUsageCsv(file, { sink: sink(), source, progress: false })).rejects.toThrow(/not usage fields: start_time .*--ignore-columns start_time/);
    expect(await recordsOf(source)).toEqual([]);
    expect(await importUsageCsv(file, { sink: sink(), source, progress: false, ignoreColumns: ['START_TIME'] })).toMatchObject({ complete: true, rated: 1 });
  });

  it('reads CRLF line ends, a byte order mark and quoted fields', async () => {
    const source = `csvr-${run}`;
    const file = write(
      'crlf.csv',
      `\uFEFF${HEADER}\r\nr1,${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456\r\n"r2" , ${lineId} ,"VOICE","3""0",2026-03-10T10:01:00Z,\r\nr3,${lineId},VOICE,"30",2026-03-10T10:02:00Z,"+49 30 123456"\r\n`,
    );
    expect(await importUsageCsv(file, { sink: sink(), source, progress: false })).toMatchObject({ complete: true, rated: 2, rejected: 1 });
    const stored = await recordsOf(source);
    expect(stored.map((r) => `${r.event_id}:${r.status}:${r.rejection_code ?? ''}`)).toEqual(['r1:RATED:', 'r2:REJECTED:QUANTITY_INVALID', 'r3:RATED:']);
  });
});

describe('CSV import: event ids of rows without one', () => {
  it('two identical rows are two events; a resumed import and a re-import give the same ids', async () => {
    const source = `csvi-${run}`;
    const header = 'line_id,usage_type,quantity,occurred_at,called_number';
    const sms = `${lineId},SMS,1,2026-03-10T10:00:00Z,+4930123456`;
    const file = write('same-rows.csv', [header, sms, sms, `${lineId},SMS,1,2026-03-10T10:01:00Z,+4930123456`, sms, ''].join('\n'));
    const first = await importUsageCsv(file, { sink: sink(), source, batchSize: 2, maxBatches: 1, progress: false });
    expect(first).toMatchObject({ complete: false, rated: 2, lastLine: 3 });
    const rest = await importUsageCsv(file, { sink: sink(), source, batchSize: 2, progress: false });
    expect(rest).toMatchObject({ complete: true, resumedAfterLine: 3, rated: 2, duplicates: 0 });
    const again = await importUsageCsv(file, { sink: sink(), source, restart: true, progress: false });
    expect(again).toMatchObject({ complete: true, rated: 0, duplicates: 4 });
    const ids = (await recordsOf(source)).map((r) => r.event_id);
    expect(ids).toHaveLength(4);
    expect(ids.map((id) => id.replace(/:[0-9a-f]{32}$/, ''))).toEqual(['line2', 'line3', 'line4', 'line5']);
    // Another file holding the same row on the same line: the same CDR sent again, a duplicate.
    const other = write('other/same-rows.csv', [header, sms, ''].join('\n'));
    expect(await importUsageCsv(other, { sink: sink(), source, progress: false })).toMatchObject({ rated: 0, duplicates: 1 });
  });

  it("today's cdr.csv without an event_id column is imported, not dropped as duplicates of yesterday's cdr.csv", async () => {
    const source = `csvd-${run}`;
    const header = 'line_id,usage_type,quantity,occurred_at,called_number';
    const yesterday = write(
      '2026-03-10/cdr.csv',
      [header, `${lineId},VOICE,30,2026-03-10T10:00:00Z,+4930123456`, `${lineId},VOICE,40,2026-03-10T11:00:00Z,+4930123456`, ''].join('\n'),
    );
    expect(await importUsageCsv(yesterday, { sink: sink(), source, progress: false })).toMatchObject({ rated: 2, duplicates: 0 });
    const today = write(
      '2026-03-11/cdr.csv',
      [header, `${lineId},VOICE,50,2026-03-11T09:00:00Z,+4930123456`, `${lineId},VOICE,60,2026-03-11T10:00:00Z,+4930123456`, ''].join('\n'),
    );
    const report = await importUsageCsv(today, { sink: sink(), source, progress: false });
    expect({ rated: report.rated, duplicates: report.duplicates }).toEqual({ rated: 2, duplicates: 0 });
    expect((await db.query(`select count(*)::int as n from usage_record where source = $1 and status = 'RATED'`, [source])).rows[0].n).toBe(4);
  });
});
