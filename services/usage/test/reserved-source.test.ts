/**
 * `ocs` is the source of the records usage makes itself for online charging sessions (named by
 * session and sequence number: `<session>#<n>`, `<session>#<n>:unreserved`). A partner sending
 * records under that source could take such an id first, and the session's own record would then
 * be a duplicate or a conflict. From outside, the source is refused, under an id of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { recordId } from '../src/application/usage-pipeline';
import { RECORD_USAGE, filePlanSource, setLine } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_rsv${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn: '+4915100007881', account: `acc_rsv${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await svc?.close();
});

const call = (eventId: string, extra: Record<string, unknown> = {}) => ({ eventId, lineId, usageType: 'VOICE', quantity: '60', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z', ...extra });

describe('a reserved source from outside', () => {
  it('is REJECTED SOURCE_RESERVED under an id that is not the session record it names; other sources are rated', async () => {
    const session = `gy-${run}`;
    const res = await svc.request(RECORD_USAGE, { input: { source: 'ocs', records: [call(`${session}#1:unreserved`), call(`e-${run}`, { source: 'partner-ocs' })] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const [refused, rated] = res.data.recordUsage.results;
    expect(refused).toMatchObject({ status: 'REJECTED', duplicate: false, rejectionCode: 'SOURCE_RESERVED' });
    expect(refused.id).not.toBe(recordId('ocs', `${session}#1:unreserved`));
    expect(rated).toMatchObject({ status: 'RATED', rejectionCode: null });
    // Stored (counted, queryable), not dropped; sending it again is the same refusal, not a new record.
    const again = await svc.request(RECORD_USAGE, { input: { source: 'ocs', records: [call(`${session}#1:unreserved`)] } });
    expect(again.data.recordUsage.results[0]).toMatchObject({ id: refused.id, status: 'REJECTED', duplicate: true, rejectionCode: 'SOURCE_RESERVED' });
    const rejected = await svc.request(`query($line: ID) { rejectedUsage(filter: { lineId: $line }, first: 10) { edges { node { id rejectionCode } } } }`, { line: lineId });
    expect(rejected.errors, JSON.stringify(rejected.errors)).toBeUndefined();
    expect(rejected.data.rejectedUsage.edges.map((e: { node: { id: string; rejectionCode: string } }) => e.node)).toEqual([{ id: refused.id, rejectionCode: 'SOURCE_RESERVED' }]);
  });
});
