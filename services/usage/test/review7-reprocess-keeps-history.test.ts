/**
 * Review (seventh round): what reprocessRejected keeps of a record. It deletes the REJECTED row and
 * inserts the re-rated one (usage-pipeline.ts persist, reprocess), so the record's receipt time
 * becomes the time of the reprocess: a CDR received on 10 March and held back until its line was
 * provisioned on 18 March reads `receivedAt: 18 March`, and with it every trace that it was ever
 * rejected (code, reason, the payload as the source sent it) is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r7r${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
});

afterAll(async () => {
  await svc?.close();
});

describe('reprocessRejected', () => {
  it('keeps the time the record was received', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `r7r-${run}`, records: [{ eventId: 'early', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T11:00:00Z' }] } });
    expect(res.data.recordUsage.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });
    const id = res.data.recordUsage.results[0].id;
    const ONE = `query($id: ID!) { usageRecord(id: $id) { status receivedAt rejectionCode } }`;
    const first = (await svc.request(ONE, { id })).data.usageRecord;
    expect(first).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });
    expect(new Date(first.receivedAt).toISOString()).toBe('2026-03-10T12:00:00.000Z');

    // The line is provisioned a week later; the operator reprocesses.
    clock.set('2026-03-18T09:00:00Z');
    await setLine(svc, { lineId, msisdn: '+4915100007761', account: `acc_r7r${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    const again = await svc.request(`mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected } }`, { i: { ids: [id] } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect(again.data.reprocessRejected).toEqual({ rated: 1, stillRejected: 0 });

    const now = (await svc.request(ONE, { id })).data.usageRecord;
    expect(now.status).toBe('RATED');
    expect(new Date(now.receivedAt).toISOString()).toBe('2026-03-10T12:00:00.000Z');
  });

  it('keeps each rejection it had, with the payload as sent', async () => {
    // Received 10 March for a line not yet known; reprocessed on the 14th (still unknown), then on the 20th.
    clock.set('2026-03-10T12:00:00Z');
    const other = `lin_r7s${run}`;
    const sent = { eventId: 'twice', lineId: other, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T11:00:00Z' };
    const res = await svc.request(RECORD_USAGE, { input: { source: `r7r-${run}`, records: [sent] } });
    const id = res.data.recordUsage.results[0].id;
    const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected } }`;
    clock.set('2026-03-14T08:00:00Z');
    expect((await svc.request(REPROCESS, { i: { ids: [id] } })).data.reprocessRejected).toEqual({ rated: 0, stillRejected: 1 });
    clock.set('2026-03-20T08:00:00Z');
    await setLine(svc, { lineId: other, msisdn: '+4915100007762', account: `acc_r7s${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    expect((await svc.request(REPROCESS, { i: { ids: [id] } })).data.reprocessRejected).toEqual({ rated: 1, stillRejected: 0 });

    const record = (await svc.request(`query($id: ID!) { usageRecord(id: $id) { status receivedAt rejectionCode rejections { rejectionCode rejectionReason receivedAt rejectedAt reprocessedAt } } }`, { id })).data.usageRecord;
    const iso = (t: string) => new Date(t).toISOString();
    expect({ ...record, receivedAt: iso(record.receivedAt), rejections: record.rejections.map((r: Record<string, string>) => ({ ...r, receivedAt: iso(r.receivedAt), rejectedAt: iso(r.rejectedAt), reprocessedAt: iso(r.reprocessedAt) })) }).toEqual({
      status: 'RATED',
      receivedAt: '2026-03-10T12:00:00.000Z',
      rejectionCode: null,
      rejections: [
        { rejectionCode: 'LINE_UNKNOWN', rejectionReason: expect.stringContaining(other), receivedAt: '2026-03-10T12:00:00.000Z', rejectedAt: '2026-03-10T12:00:00.000Z', reprocessedAt: '2026-03-14T08:00:00.000Z' },
        { rejectionCode: 'LINE_UNKNOWN', rejectionReason: expect.stringContaining(other), receivedAt: '2026-03-10T12:00:00.000Z', rejectedAt: '2026-03-14T08:00:00.000Z', reprocessedAt: '2026-03-20T08:00:00.000Z' },
      ],
    });
    // The payload as the source sent it is kept with each rejection (operations data: not on the GraphQL type).
    const db = await sqlOf(svc);
    try {
      const { rows } = await db.query(`select raw from usage_rejection_history where record_id = $1 order by id`, [id]);
      expect(rows.map((r) => JSON.parse(r.raw))).toEqual([expect.objectContaining(sent), expect.objectContaining(sent)]);
    } finally {
      await db.end();
    }
  });
});
