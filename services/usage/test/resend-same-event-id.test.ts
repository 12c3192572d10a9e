/**
 * what recordUsage answers for a record it has seen before.
 *
 * - Every duplicate is answered `status: RATED, duplicate: true` (usage-pipeline.ts builds the
 *   outcome of a known id with a fixed 'RATED'), also when the stored record is REJECTED: a client
 *   that retries a batch (its first reply lost) is told its bad record was rated, with no
 *   rejection code.
 * - A second record with the same (source, eventId) but other content - in the same batch, or
 *   later - is silently dropped as a "duplicate": the usage it describes is never rated nor
 *   charged and nothing says so. CONVENTIONS rule 5: same key + other input → CONFLICT.
 * - Over JetStream such a record is acked (a redelivery would be refused again), logged and
 *   counted (`ledgerline_usage_rejected_total{reason="EVENT_ID_CONFLICT"}`), never stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageIngestSubject, usagePartitionOf } from '@ledgerline/contracts';
import { ManualClock, scrapeMetrics, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_rur${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn: '+4915100007991', account: `acc_rur${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await svc?.close();
});

const call = (eventId: string, quantity: string) => ({ eventId, lineId, usageType: 'VOICE', quantity, calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' });

async function send(source: string, records: Record<string, unknown>[]) {
  const res = await svc.request(RECORD_USAGE, { input: { source, records } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recordUsage;
}

describe('recordUsage: records seen before (review)', () => {
  it('a rejected record sent again is answered REJECTED with its rejection code, not RATED', async () => {
    const source = `rur-rej-${run}`;
    const first = await send(source, [call('bad-qty', 'thirty')]);
    expect(first.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'QUANTITY_INVALID', duplicate: false });
    // The client's reply was lost: it sends the same batch again.
    const again = await send(source, [call('bad-qty', 'thirty')]);
    expect(again.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'QUANTITY_INVALID', duplicate: true });
  });

  it('two records with one eventId and different quantities in one batch: the second is refused with a CONFLICT code, not dropped as a duplicate', async () => {
    const source = `rur-same-${run}`;
    const res = await send(source, [call('cdr-1', '30'), call('cdr-1', '600')]);
    expect(res.results[0]).toMatchObject({ status: 'RATED', duplicate: false });
    expect(res.results[1]).toMatchObject({ duplicate: false, rejectionCode: expect.stringMatching(/CONFLICT/) });
  });

  it('a record with a known eventId and other content sent later is refused with a CONFLICT code; the same record again is a duplicate', async () => {
    const source = `rur-later-${run}`;
    await send(source, [call('cdr-2', '30')]);
    const same = await send(source, [call('cdr-2', '30')]);
    expect(same.results[0]).toMatchObject({ status: 'RATED', duplicate: true });
    const other = await send(source, [call('cdr-2', '600')]);
    expect(other.results[0]).toMatchObject({ duplicate: false, rejectionCode: expect.stringMatching(/CONFLICT/) });
  });
});

describe('records stored before fingerprints', () => {
  it('have none: a record sent again under their eventId is a plain duplicate, whatever its content', async () => {
    const source = `rur-old-${run}`;
    const first = await send(source, [call('cdr-3', '30')]);
    const db = await sqlOf(svc);
    try {
      await db.query('update usage_record set fingerprint = null where id = $1', [first.results[0].id]);
    } finally {
      await db.end();
    }
    const other = await send(source, [call('cdr-3', '600')]);
    expect(other.results[0]).toMatchObject({ status: 'RATED', duplicate: true });
    expect(other.results[0].rejectionCode ?? null).toBeNull();
  });
});

describe('over JetStream (review)', () => {
  it('a message with a known eventId and other content is acked, logged and counted, never stored nor redelivered', async () => {
    const ingest = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['ingest'], deliverNew: true }), {
      clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
      env: { USAGE_INGEST_ACK_WAIT_MS: '1000' },
    });
    const db = await sqlOf(ingest);
    try {
      const msisdn = '+4915100007992';
      await setLine(ingest, { lineId, msisdn, account: `acc_rur${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
      const source = `rur-js-${run}`;
      const subject = usageIngestSubject(usagePartitionOf(msisdn));
      const publish = (quantity: string) => ingest.runtime.messaging.js.publish(subject, JSON.stringify({ source, ...call('js-1', quantity) }));
      const stored = async () => (await db.query(`select quantity::float8 as q, status from usage_record where source = $1`, [source])).rows;
      const conflicts = async () => (await scrapeMetrics(ingest))['ledgerline_usage_rejected_total{reason="EVENT_ID_CONFLICT"}'] ?? 0;

      await publish('30');
      await waitFor(async () => (await stored()).length === 1, 15_000, 'the first record');
      await publish('600');
      await publish('600');
      await waitFor(async () => (await conflicts()) === 2, 15_000, 'two refusals');
      // Past the ack wait: nothing came again (both were acked), and the first record is the only one.
      await new Promise((r) => setTimeout(r, 2500));
      expect({ conflicts: await conflicts(), records: await stored() }).toEqual({ conflicts: 2, records: [{ q: 30, status: 'RATED' }] });
    } finally {
      await db.end();
      await ingest.close();
    }
  });
});
