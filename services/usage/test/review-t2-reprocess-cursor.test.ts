/**
 * reprocessRejected by rejectionCode / lineId past records that stay rejected (review T2, thirtieth session).
 *
 * A selection by rejectionCode or lineId takes the first `limit` REJECTED records in (occurredAt, id) order. When
 * those stay REJECTED (their cause is not fixed), every later call picks the same records again and never reaches
 * the ones after them: a record that would rate now stays REJECTED (uncharged) unless staff find its id. The
 * mutation takes `after` (the payload's `pageInfo.endCursor`, Relay style) and goes on past the records the call
 * before looked at, the ones still rejected included. Pages go in order of receipt (a patch cannot move a record
 * there: see the patched-occurredAt case); each page is rated in occurredAt order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine } from './support';

let svc: TestService;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_rpc${run}`;
const source = `rpc-${run}`;

const REPROCESS = `mutation($i: ReprocessRejectedInput!) {
  reprocessRejected(input: $i) { rated stillRejected results { eventId status rejectionCode } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
}`;

interface Payload {
  rated: number;
  stillRejected: number;
  results: { eventId: string; status: string; rejectionCode: string | null }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

async function reprocess(i: Record<string, unknown>): Promise<Payload> {
  const res = await svc.request(REPROCESS, { i });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.reprocessRejected as Payload;
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
  // Usage before usage knows the line: all REJECTED LINE_UNKNOWN. One record without occurredAt (RECORD_MALFORMED).
  // Pages go in order of receipt: each record comes a second after the one before.
  const sms = (eventId: string, occurredAt?: string) => ({ eventId, lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', ...(occurredAt ? { occurredAt } : {}) });
  for (const record of [sms('no-time'), sms('jan-1', '2026-01-10T10:00:00Z'), sms('jan-2', '2026-01-11T10:00:00Z'), sms('mar-1', '2026-03-10T10:00:00Z')]) {
    clock.advance(1000);
    const res = await svc.request(RECORD_USAGE, { input: { source, records: [record] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rejected).toBe(1);
  }
  // The line turns up with a subscription from March: January's usage stays unratable, March's would rate now.
  await setLine(svc, { lineId, msisdn: '+4915100008611', account: `acc_rpc${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', at: '2026-03-01T00:00:00Z', startsAt: '2026-03-01T00:00:00Z' });
});

afterAll(async () => {
  await svc?.close();
});

describe('reprocessRejected by lineId with a limit', () => {
  it('reaches the records after those that stay rejected with after: pageInfo.endCursor', async () => {
    // The first page, as before: the oldest two (the one without a time first). Asked again, the same two.
    const first = await reprocess({ lineId, limit: 2 });
    expect(first.results.map((r) => r.eventId)).toEqual(['no-time', 'jan-1']);
    expect(first).toMatchObject({ rated: 0, stillRejected: 2, pageInfo: { hasNextPage: true, hasPreviousPage: false } });
    const again = await reprocess({ lineId, limit: 2 });
    expect(again.results.map((r) => r.eventId)).toEqual(['no-time', 'jan-1']);

    // Past them: January's second record stays rejected, March's is rated now.
    const second = await reprocess({ lineId, limit: 2, after: first.pageInfo.endCursor });
    expect(second.results).toEqual([
      { eventId: 'jan-2', status: 'REJECTED', rejectionCode: 'SUBSCRIPTION_NOT_FOUND' },
      { eventId: 'mar-1', status: 'RATED', rejectionCode: null },
    ]);
    expect(second).toMatchObject({ rated: 1, stillRejected: 1, pageInfo: { hasNextPage: false, hasPreviousPage: true } });

    // Nothing after the last one; and from the start only the three still rejected are left.
    const third = await reprocess({ lineId, limit: 2, after: second.pageInfo.endCursor });
    expect(third).toMatchObject({ rated: 0, stillRejected: 0, results: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const all = await reprocess({ lineId });
    expect(all.results.map((r) => r.eventId)).toEqual(['no-time', 'jan-1', 'jan-2']);
    expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('walks every record once with limit 1, records at the same instant and without one included', async () => {
    const other = `lin_rpw${run}`;
    const sms = (eventId: string, occurredAt?: string) => ({ eventId, lineId: other, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', ...(occurredAt ? { occurredAt } : {}) });
    // Received in two batches: the records of one batch share their receipt time (the id breaks the tie).
    for (const records of [[sms('w-later', '2026-03-02T10:00:00Z'), sms('w-same-a', '2026-03-01T10:00:00Z'), sms('w-same-b', '2026-03-01T10:00:00Z')], [sms('w-no-time-a'), sms('w-no-time-b')]]) {
      clock.advance(1000);
      const res = await svc.request(RECORD_USAGE, { input: { source, records } });
      expect(res.data.recordUsage.rejected).toBe(records.length);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let calls = 0; calls < 10; calls++) {
      const page: Payload = await reprocess({ lineId: other, limit: 1, ...(after ? { after } : {}) });
      seen.push(...page.results.map((r) => r.eventId));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen.slice(0, 3).sort()).toEqual(['w-later', 'w-same-a', 'w-same-b']);
    expect(seen.slice(3).sort()).toEqual(['w-no-time-a', 'w-no-time-b']);
  });

  // The cursor was the record's place in (occurredAt, id) order, which a patch can change: a record a page left REJECTED
  // with its occurredAt patched past the cursor was taken again by a later page of the same run (the same result, one more
  // usage_rejection_history row). The cursor is now on what a patch cannot change (the receipt time and the id).
  it('takes each record once per paging run although the patch moves its occurredAt past the cursor', async () => {
    const moved = `lin_rpm${run}`;
    const sms = (eventId: string, occurredAt: string) => ({ eventId, lineId: moved, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt });
    const res = await svc.request(RECORD_USAGE, { input: { source, records: [sms('m-a', '2026-01-05T10:00:00Z'), sms('m-b', '2026-01-06T10:00:00Z'), sms('m-c', '2026-01-07T10:00:00Z')] } });
    expect(res.data.recordUsage.rejected).toBe(3);
    // The line is still unknown: every record stays REJECTED, now dated in March.
    const patch = { occurredAt: '2026-03-15T10:00:00Z' };
    const seen: string[] = [];
    let after: string | null = null;
    for (let calls = 0; calls < 10; calls++) {
      const page: Payload = await reprocess({ lineId: moved, limit: 1, patch, ...(after ? { after } : {}) });
      seen.push(...page.results.map((r) => r.eventId));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(['m-a', 'm-b', 'm-c']);
    const history = await svc.request(`{ rejectedUsage(filter: { lineId: "${moved}" }) { edges { node { eventId occurredAt rejections { rejectionCode } } } } }`);
    const nodes = (history.data?.rejectedUsage?.edges ?? []) as { node: { eventId: string; occurredAt: string; rejections: unknown[] } }[];
    expect(Object.fromEntries(nodes.map((e) => [e.node.eventId, [e.node.occurredAt, e.node.rejections.length]]))).toEqual({
      'm-a': ['2026-03-15T10:00:00.000Z', 1], 'm-b': ['2026-03-15T10:00:00.000Z', 1], 'm-c': ['2026-03-15T10:00:00.000Z', 1],
    });
  });

  it('refuses a cursor it did not hand out: BAD_USER_INPUT naming input.after', async () => {
    for (const after of ['not-a-cursor', Buffer.from('usg_00000000000000000000000000000000').toString('base64url'), Buffer.from('2026-13-01T00:00:00.000000Z/usg_00000000000000000000000000000000').toString('base64url')]) {
      const res = await svc.request(REPROCESS, { i: { lineId, after } });
      expect(res.errors?.[0]?.extensions, after).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.after', reason: 'CURSOR_INVALID' });
    }
  });
});
