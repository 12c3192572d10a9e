/**
 * Review 19: resuming the CSV import (`src/cli/import-csv.ts`).
 *
 * The checkpoint is keyed by the file's path, size and mtime, but the key is taken when the
 * checkpoint is WRITTEN (`writeCheckpoint` → `fileKey(file)`), not from the file whose lines the
 * batch was read from. A file replaced while a run is in flight (the mediation drops the corrected
 * `cdr.csv` over the one being imported, then the import is stopped or killed) gets a checkpoint
 * that names the NEW file with the OLD file's line count: the next run resumes past rows of the new
 * file that were never sent. They are neither rated nor rejected.
 */
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
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-review19-csv-'));
const lineId = `lin_r19csv${run}`;
const HEADER = 'event_id,line_id,usage_type,quantity,occurred_at,called_number';

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100019019', account: `acc_r19csv${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = (prefix: string, n: number) =>
  [HEADER, ...Array.from({ length: n }, (_, i) => `${prefix}${i + 1},${lineId},VOICE,${30 + i},2026-03-10T10:${String(i).padStart(2, '0')}:00Z,+4930123456`), ''].join('\n');

describe('review 19: CSV import resume', () => {
  it('a file replaced while a run is in flight: the next run imports every row of the new file (none skipped)', async () => {
    const source = `csv-r19-${run}`;
    const file = path.join(dir, 'cdr.csv');
    fs.writeFileSync(file, rows('old', 6));
    const real = graphqlSink(svc.url, DEV_INTERNAL_SECRET);
    let replaced = false;
    const sink: UsageSink = async (src, records) => {
      const result = await real(src, records);
      if (!replaced) {
        replaced = true;
        // The corrected file arrives (other rows, other size and mtime) while this batch is committed.
        fs.writeFileSync(file, rows('new', 8));
        fs.utimesSync(file, new Date('2026-03-11T00:00:00Z'), new Date('2026-03-11T00:00:00Z'));
      }
      return result;
    };
    const first = await importUsageCsv(file, { sink, source, batchSize: 3, maxBatches: 1, progress: false });
    expect(first.complete).toBe(false);

    // The next run reads the new file: none of its rows has been sent, so all must be sent.
    const second = await importUsageCsv(file, { sink: real, source, batchSize: 3, progress: false });
    const stored = (await db.query(`select event_id from usage_record where source = $1 and event_id like 'new%' order by event_id`, [source])).rows.map(
      (r: { event_id: string }) => r.event_id,
    );
    expect({ resumedAfterLine: second.resumedAfterLine, stored }).toEqual({
      resumedAfterLine: 0,
      stored: Array.from({ length: 8 }, (_, i) => `new${i + 1}`).sort(),
    });
  });

  it('the run that sees the file change stops saying so and leaves no checkpoint', async () => {
    const source = `csv-r19b-${run}`;
    const file = path.join(dir, 'changing.csv');
    fs.writeFileSync(file, rows('chg', 6));
    const real = graphqlSink(svc.url, DEV_INTERNAL_SECRET);
    let replaced = false;
    const sink: UsageSink = async (src, records) => {
      const result = await real(src, records);
      if (!replaced) {
        replaced = true;
        fs.writeFileSync(file, rows('chx', 8));
      }
      return result;
    };
    const first = await importUsageCsv(file, { sink, source, batchSize: 3, progress: false });
    expect({ complete: first.complete, lastLine: first.lastLine, checkpoint: fs.existsSync(checkpointPath(file)) }).toEqual({ complete: false, lastLine: 4, checkpoint: false });
    expect(first.stopped).toMatch(/changed while it was being imported .*its size went from .*run the import again: it reads the file from its first line/);
    const second = await importUsageCsv(file, { sink: real, source, batchSize: 3, progress: false });
    expect(second).toMatchObject({ complete: true, resumedAfterLine: 0, rated: 8 });
    expect(second.stopped).toBeUndefined();
  });

  it('a file replaced between runs by one of the same size and mtime: the checkpoint is not trusted (the bytes it covers hash otherwise)', async () => {
    const source = `csv-r19c-${run}`;
    const file = path.join(dir, 'same-size.csv');
    const mtime = new Date('2026-03-12T00:00:00Z');
    fs.writeFileSync(file, rows('aaa', 6));
    fs.utimesSync(file, mtime, mtime);
    const before = fs.statSync(file);
    const real = graphqlSink(svc.url, DEV_INTERNAL_SECRET);
    const first = await importUsageCsv(file, { sink: real, source, batchSize: 3, maxBatches: 1, progress: false });
    expect({ complete: first.complete, lastLine: first.lastLine, checkpoint: fs.existsSync(checkpointPath(file)) }).toEqual({ complete: false, lastLine: 4, checkpoint: true });

    fs.writeFileSync(file, rows('bbb', 6));
    fs.utimesSync(file, mtime, mtime);
    expect({ size: fs.statSync(file).size, mtimeMs: fs.statSync(file).mtimeMs }).toEqual({ size: before.size, mtimeMs: before.mtimeMs });
    const second = await importUsageCsv(file, { sink: real, source, batchSize: 3, progress: false });
    const stored = (await db.query(`select event_id from usage_record where source = $1 and event_id like 'bbb%' order by event_id`, [source])).rows.map(
      (r: { event_id: string }) => r.event_id,
    );
    expect({ resumedAfterLine: second.resumedAfterLine, stored }).toEqual({ resumedAfterLine: 0, stored: Array.from({ length: 6 }, (_, i) => `bbb${i + 1}`) });

    // The same file, untouched, resumes from its checkpoint as before.
    const third = await importUsageCsv(file, { sink: real, source, batchSize: 3, maxBatches: 1, restart: true, progress: false });
    const fourth = await importUsageCsv(file, { sink: real, source, batchSize: 3, progress: false });
    expect({ third: third.lastLine, resumed: fourth.resumedAfterLine, complete: fourth.complete, duplicates: fourth.duplicates }).toEqual({ third: 4, resumed: 4, complete: true, duplicates: 3 });
  });
});
