/**
 * A quantity with leading zeros ("05", "00.5") passed usage's check (digits, at most six decimals) but not rating's decimal
 * format (no leading zeros), so the record was refused by the rating engine (RATING_INVALID_EVENT, a rating error for a
 * CDR that only wrote its number so). Usage reads it as the number it writes (`quantityText` in usage-input, the one rule
 * of every path): recordUsage, JetStream ingest and the CSV import rate "05" as 5.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, usageIngestSubject, usagePartitionOf } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { graphqlSink, importUsageCsv } from '../src/cli/import-csv';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_lz${run}`;
const msisdn = `+49151${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-lz-'));

async function stored(source: string): Promise<string[][]> {
  const { rows } = await db.query(`select event_id, status, rejection_code, quantity::text from usage_record where source = $1 order by event_id`, [source]);
  return rows.map((r) => [r.event_id, r.status, r.rejection_code, r.quantity === null ? null : dec(r.quantity).toString()]);
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['ingest'], deliverNew: true }));
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn, account: `acc_lz${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = () => new Date(Date.now() - 60_000).toISOString();

describe('a quantity with leading zeros', () => {
  it('recordUsage rates "05" as 5', async () => {
    const source = `lz-api-${run}`;
    const res = await svc.request(RECORD_USAGE, { input: { source, records: [
      { eventId: 'a', lineId, usageType: 'DATA', quantity: '05', occurredAt: at() },
      { eventId: 'b', lineId, usageType: 'DATA', quantity: '00.250', occurredAt: at() },
      { eventId: 'c', lineId, usageType: 'SMS', quantity: '001', occurredAt: at() },
    ] } });
    expect(res.errors).toBeUndefined();
    expect(await stored(source)).toEqual([['a', 'RATED', null, '5'], ['b', 'RATED', null, '0.25'], ['c', 'RATED', null, '1']]);
  });

  it('JetStream ingest rates "05" as 5', async () => {
    const source = `lz-js-${run}`;
    await svc.runtime.messaging.js.publish(usageIngestSubject(usagePartitionOf(msisdn)), JSON.stringify({ source, eventId: 'j', msisdn, usageType: 'DATA', quantity: '05', occurredAt: at() }));
    await waitFor(async () => (await stored(source)).length === 1, 15_000, 'the record');
    expect(await stored(source)).toEqual([['j', 'RATED', null, '5']]);
  });

  it('the CSV import rates "05" as 5', async () => {
    const file = path.join(dir, `cdr-${run}.csv`);
    fs.writeFileSync(file, `event_id,msisdn,usage_type,direction,quantity,occurred_at\nv1,${msisdn},DATA,MO,060,${at()}\n`);
    const report = await importUsageCsv(file, { sink: graphqlSink(svc.url, DEV_INTERNAL_SECRET), batchSize: 10, progress: false, source: `lz-csv-${run}` });
    expect(report).toMatchObject({ rated: 1, rejected: 0, complete: true });
    expect(await stored(`lz-csv-${run}`)).toEqual([['v1', 'RATED', null, '60']]);
  });
});
