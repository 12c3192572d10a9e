/**
 * A batch redelivered while its first delivery is still being written (the broker's ack wait ran
 * out) is not rated again: it waits for that write, its events are duplicates, and the threshold
 * crossings of the events after it are still found, each once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const line = `lin_redeliver_${run}`;
const source = `redeliver-${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+4915800${String(Date.now()).slice(-6)}`, account: `acc_redeliver_${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const events = (prefix: string, n: number, mb: string) =>
  Array.from({ length: n }, (_, i) => ({ source, raw: { source, eventId: `${prefix}${i}`, lineId: line, usageType: 'DATA', quantity: mb, occurredAt: new Date(Date.now() - 60_000).toISOString() } }));

describe('a redelivery of a batch still being written', () => {
  it('is taken as duplicates once the write is done, and the next crossings are still found, each once', async () => {
    const pipeline = usageRuntimeOf(svc.runtime).pipeline;
    const first = events('a', 20, '300'); // 6,000 MB of the 10,240 MB bundle: crosses 50 %
    // The first delivery, its redelivery and the next batch arrive while the first is being written.
    const [once, again, next] = await Promise.all([pipeline.process(first), pipeline.process(first), pipeline.process(events('b', 10, '300'))]); // then 9,000 MB: crosses 80 %
    expect(once.every((o) => !o.duplicate)).toBe(true);
    expect(again.every((o) => o.duplicate)).toBe(true);
    expect(next.every((o) => o.status === 'RATED' && !o.duplicate)).toBe(true);

    const thresholds = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === line);
    expect(thresholds.map((d) => d.threshold)).toEqual(['0.5', '0.8']);
    const [{ n, mb }] = (await db.query(`select count(*)::int as n, sum(quantity)::text as mb from usage_record where line_id = $1`, [line])).rows;
    expect([n, Number(mb)]).toEqual([30, 9000]);
  });
});
