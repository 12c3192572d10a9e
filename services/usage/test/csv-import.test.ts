import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_SECRET, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { checkpointPath, graphqlSink, importUsageCsv } from '../src/cli/import-csv';
import { filePlanSource, setLine } from './support';

let svc: TestService;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-csv-'));
const file = path.join(dir, `cdr-${Math.random().toString(36).slice(2, 8)}.csv`);

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  await setLine(svc, { lineId: 'lin_csv', msisdn: '+4915100000077', account: 'acc_csv', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  const lines = ['event_id,msisdn,usage_type,direction,quantity,occurred_at,called_number'];
  for (let i = 1; i <= 24; i++) lines.push(`c${i},+4915100000077,VOICE,MO,${30 + i},2026-03-0${1 + (i % 9)}T10:00:00Z,+4930123456`);
  lines.splice(5, 0, 'bad1,+4915100000077,VOICE,MO,a lot,2026-03-01T10:00:00Z,+4930123456');
  lines.splice(8, 0, 'bad2,+4915100000077,VO"ICE,MO,30,2026-03-01T10:00:00Z,+4930123456');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
});

afterAll(async () => {
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('CSV import', () => {
  it('imports in batches, stops, resumes from its checkpoint, and a full re-run changes nothing', async () => {
    const sink = graphqlSink(svc.url, DEV_INTERNAL_SECRET);
    const first = await importUsageCsv(file, { sink, batchSize: 10, maxBatches: 1, progress: false });
    expect(first).toMatchObject({ complete: false, rated: 8, rejected: 2, resumedAfterLine: 0 });
    expect(fs.existsSync(checkpointPath(file))).toBe(true);

    const rest = await importUsageCsv(file, { sink, batchSize: 10, progress: false });
    expect(rest.resumedAfterLine).toBe(first.lastLine);
    expect(rest.complete).toBe(true);
    expect(first.rated + rest.rated).toBe(24);
    expect(first.rejected + rest.rejected).toBe(2);
    expect(first.duplicates + rest.duplicates).toBe(0);

    const again = await importUsageCsv(file, { sink, batchSize: 10, restart: true, progress: false });
    expect(again).toMatchObject({ rated: 0, rejected: 0, duplicates: 26, complete: true });

    const rejected = await svc.request(`{ rejectedUsage(filter: { lineId: null }) { edges { node { eventId rejectionCode } } } }`);
    const codes = rejected.data.rejectedUsage.edges
      .map((e: { node: { eventId: string; rejectionCode: string } }) => `${e.node.eventId}:${e.node.rejectionCode}`)
      .sort();
    expect(codes).toHaveLength(2);
    expect(codes[0]).toBe('bad1:QUANTITY_INVALID');
    // The broken row (line 9) has no readable event id: it gets its line number and a hash of its text.
    expect(codes[1]).toMatch(/^line9:[0-9a-f]{32}:RECORD_MALFORMED$/);
  });
});
