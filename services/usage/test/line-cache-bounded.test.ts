/**
 * The line directory's cache is bounded (USAGE_LINE_CACHE_SIZE): an operator has millions of lines
 * and the cache used to keep every line it ever read. With a cache far smaller than the lines a
 * run touches (but at least four times a batch's lines, as the service's minimum size ensures),
 * batches rated side by side (each prefetching its lines while the ones before are rated) still
 * rate every event: none is rejected as LINE_UNKNOWN because another batch's load pushed its line out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { LineDirectory } from '../src/application/line-directory';
import { UsagePipeline } from '../src/application/usage-pipeline';
import { filePlanSource, sqlOf } from './support';

const CACHE = 8;
const LINES = 60;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const msisdnOf = (i: number) => `+4917${run.replace(/\D/g, '').padEnd(4, '7').slice(0, 4)}${String(i).padStart(4, '0')}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  db = await sqlOf(svc);
  const usage = usageRuntimeOf(svc.runtime);
  const since = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < LINES; i++) {
    const lineId = `lin_cap${run}${i}`;
    await usage.directory.applyLineState({ lineId, msisdn: msisdnOf(i), billingAccountId: `acc_cap${run}${i}`, status: 'ACTIVE' }, since);
    await usage.directory.applySubscription({ subscriptionId: `sub_cap${run}${i}`, lineId, msisdn: msisdnOf(i), billingAccountId: `acc_cap${run}${i}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'X', planVersionId: 'plv_postpaid', status: 'ACTIVE', startsAt: since.toISOString(), endsAt: null, addOns: [] }, since);
  }
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('a bounded line cache', () => {
  it('rates every event of batches side by side over many more lines than it holds', async () => {
    const usage = usageRuntimeOf(svc.runtime);
    const pipeline = new UsagePipeline({ ...usage.pipeline.deps, directory: new LineDirectory(usage.sql, CACHE) });
    // Thirty batches of two lines each, by MSISDN (the holders cache) and by line id, all in flight at once.
    const batches = Array.from({ length: 30 }, (_, b) =>
      Array.from({ length: 2 }, (_, k) => {
        const i = b * 2 + k;
        const raw = { eventId: `cap-${run}-${i}`, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-02-01T10:00:00Z', ...(i % 2 ? { msisdn: msisdnOf(i) } : { lineId: `lin_cap${run}${i}` }) };
        return { raw, source: `cap-${run}` };
      }),
    );
    const outcomes = (await Promise.all(batches.map((items) => pipeline.process(items)))).flat();
    expect(outcomes.filter((o) => o.status !== 'RATED').map((o) => o.rejectionCode)).toEqual([]);
    const { rows } = await db.query(`select count(*)::int as n from usage_record where source = $1 and status = 'RATED'`, [`cap-${run}`]);
    expect(rows[0].n).toBe(LINES);
  });

  it('never holds more lines than its size', async () => {
    const directory = new LineDirectory(usageRuntimeOf(svc.runtime).sql, CACHE);
    for (let i = 0; i < LINES; i += 5) {
      const ids = Array.from({ length: 5 }, (_, k) => `lin_cap${run}${i + k}`);
      await directory.prefetch(ids, []);
      // What a prefetch loaded is there right after it...
      for (const id of ids) expect(directory.get(id, undefined)?.lineId).toBe(id);
      // ...and the cache stays within its size.
      expect(directory.cachedLines).toBeLessThanOrEqual(CACHE);
    }
  });
});
