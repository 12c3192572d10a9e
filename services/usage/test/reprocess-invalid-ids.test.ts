/**
 * reprocessRejected of records whose ids could not be stored as sent.
 *
 * A record rejected for its event id (over 128 characters: EVENT_ID_INVALID; or holding a NUL)
 * is stored with the id cut to 128 characters (or the NUL shown as U+FFFD), under a record id made
 * from the id as sent. reprocessRejected sends the stored, cut id through the pipeline again: it
 * passes validation now, so the usage is rated and charged under an event id the source never
 * used and a record id of its own, and the REJECTED record stays beside it - listed by
 * rejectedUsage for ever, picked up by every later reprocess of its code, and a resend of the
 * original event is still answered as a duplicate of the rejected record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_rpi${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn: '+4915100008501', account: `acc_rpi${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await svc?.close();
});

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { eventId status rejectionCode } } }`;

describe('reprocessRejected of a record rejected for its event id', () => {
  it('keeps it one REJECTED record (EVENT_ID_INVALID): it is not rated under the cut id beside it', async () => {
    const source = `rpi-${run}`;
    const eventId = `${'x'.repeat(128)}-${run}`;
    const res = await svc.request(RECORD_USAGE, { input: { source, records: [{ eventId, lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' }] } });
    expect(res.data.recordUsage.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'EVENT_ID_INVALID' });

    const again = await svc.request(REPROCESS, { i: { ids: [res.data.recordUsage.results[0].id] } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    // The result says it stays rejected, and why.
    expect(again.data.reprocessRejected).toMatchObject({ rated: 0, stillRejected: 1, results: [{ status: 'REJECTED', rejectionCode: 'EVENT_ID_INVALID' }] });
    const listed = await svc.request(`query($s: String) { usageRecords(filter: { source: $s }) { edges { node { status rejectionCode chargeStatus } } } }`, { s: source });
    expect(listed.errors, JSON.stringify(listed.errors)).toBeUndefined();
    expect(listed.data.usageRecords.edges.map((e: { node: unknown }) => e.node)).toEqual([{ status: 'REJECTED', rejectionCode: 'EVENT_ID_INVALID', chargeStatus: 'NONE' }]);
  });
});
