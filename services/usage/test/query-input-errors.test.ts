/**
 * Bad input to usage's queries, its admin mutation and subscribers' events is answered with a
 * coded error naming the field (CONVENTIONS rule 4), not INTERNAL_SERVER_ERROR, a wrong answer or
 * a consumer stuck on one message:
 *
 *  - `usageRecords(after:)` decoded any text as a cursor: one that decodes to a NUL character
 *    ("AA") reached PostgreSQL and failed (INTERNAL_SERVER_ERROR); one that is not a cursor at all
 *    silently paged from wherever its bytes sort. Now BAD_USER_INPUT naming `after`; the cursors
 *    the connection hands out still page;
 *  - a NUL in a filter text (`source`, `rejectionCode`) or in `usageRecord(id:)` failed in
 *    PostgreSQL (INTERNAL_SERVER_ERROR): now BAD_USER_INPUT naming the field;
 *  - a year below 100 was taken as 19xx by Date.UTC: `Line.usage(period: "0001-01-01")` answered
 *    January 1901, `rerate(period: "0099-05")` re-rated May 1999 (an operator's typo re-rated a
 *    month nobody asked for). Years before 1970 are refused, naming the field;
 *  - `upsertLineContext` with an MSISDN, line id or subscription id longer than its column failed
 *    in PostgreSQL (INTERNAL_SERVER_ERROR): now BAD_USER_INPUT naming the field, nothing applied;
 *    a number written with spaces is stored as usage events name it (`+` and digits);
 *  - a subscribers event with such ids failed its batch, which was retried forever (every later
 *    line and subscription event held back): now it is logged, counted
 *    (ledgerline_usage_subscriber_events_dropped_total) and acknowledged, and the next events apply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_qi${run}`;
const account = `acc_qi${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['subscribers'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn: '+4915100009911', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  const res = await svc.request(RECORD_USAGE, { input: { source: `qi-${run}`, records: [{ eventId: 'e1', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' }] } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
});

afterAll(async () => {
  await svc?.close();
});

/** The error's code and the field it names (null when none), or the data when it answered. */
async function outcome(query: string, variables?: Record<string, unknown>) {
  const res = await svc.request(query, variables);
  const e = res.errors?.[0];
  return e ? { code: e.extensions?.code, field: (e.extensions?.field as string | undefined) ?? null } : { data: res.data };
}

const BAD_INPUT = (field: string) => ({ code: 'BAD_USER_INPUT', field });

describe('usage queries refuse bad input with a coded error naming the field', () => {
  it('a cursor that is not one of the connection’s cursors', async () => {
    const page = `query($after: String) { usageRecords(filter: { lineId: "${lineId}" }, first: 5, after: $after) { edges { cursor } } }`;
    const first = await outcome(page.replace('first: 5', 'first: 1'));
    const cursor = (first as { data?: any }).data?.usageRecords.edges[0]?.cursor;
    expect(cursor).toEqual(expect.any(String));
    expect({
      nul: await outcome(page, { after: 'AA' }),
      garbage: await outcome(page, { after: 'not a cursor' }),
      // One of ours still pages (this line has one record: nothing after it).
      ours: await outcome(page, { after: cursor }),
    }).toEqual({ nul: BAD_INPUT('after'), garbage: BAD_INPUT('after'), ours: { data: { usageRecords: { edges: [] } } } });
  });

  it('a NUL character in a filter or an id', async () => {
    expect({
      source: await outcome(`{ usageRecords(filter: { source: "a\\u0000b" }, first: 5) { edges { cursor } } }`),
      rejectionCode: await outcome(`{ rejectedUsage(filter: { rejectionCode: "a\\u0000b" }, first: 5) { edges { cursor } } }`),
      id: await outcome(`{ usageRecord(id: "usg_\\u0000") { id } }`),
    }).toEqual({
      source: BAD_INPUT('filter.source'),
      rejectionCode: BAD_INPUT('filter.rejectionCode'),
      // No record has such an id: null, or an input error - not a server error.
      id: expect.not.objectContaining({ code: 'INTERNAL_SERVER_ERROR' }),
    });
  });

  it('a period in a year before 100 is not read as 19xx', async () => {
    const usage = await outcome(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "0001-01-01") { periodStart periodEnd } } } }`);
    const rerate = await outcome(`mutation { rerate(input: { billingAccountId: "${account}", period: "0099-05" }) { period recordsRerated } }`);
    const instant = await outcome(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "0001-01-01T00:00:00Z") { periodStart } } } }`);
    const march = await outcome(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-10") { events } } } }`);
    expect({ usage, instant, rerate, march }).toEqual({ usage: BAD_INPUT('period'), instant: BAD_INPUT('period'), rerate: BAD_INPUT('input.period'), march: { data: { _entities: [{ usage: { events: 1 } }] } } });
  });

  it('upsertLineContext: ids and numbers longer than usage stores', async () => {
    const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;
    const subscription = { subscriptionId: `sub_${'s'.repeat(60)}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_postpaid', planVersionId: 'plv_postpaid', startsAt: '2026-01-01T00:00:00Z' };
    expect({
      msisdn: await outcome(UPSERT, { input: { lineId: `lin_q2${run}`, msisdn: `+49${'1'.repeat(40)}`, billingAccountId: account, status: 'ACTIVE' } }),
      lineId: await outcome(UPSERT, { input: { lineId: `lin_${'l'.repeat(60)}`, billingAccountId: account, status: 'ACTIVE' } }),
      subscriptionId: await outcome(UPSERT, { input: { lineId: `lin_q3${run}`, billingAccountId: account, status: 'ACTIVE', subscription } }),
    }).toEqual({ msisdn: BAD_INPUT('input.msisdn'), lineId: BAD_INPUT('input.lineId'), subscriptionId: BAD_INPUT('input.subscription.subscriptionId') });
  });

  it('upsertLineContext: a number written with spaces is stored as usage events name it', async () => {
    const spaced = `lin_qs${run}`;
    await setLine(svc, { lineId: spaced, msisdn: '+49 151 0000 9912', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `qi-${run}`, records: [{ eventId: 'by-number', msisdn: '+4915100009912', usageType: 'SMS', quantity: '1', occurredAt: '2026-03-10T10:00:00Z' }] } });
    expect(res.data?.recordUsage.results[0], JSON.stringify(res)).toMatchObject({ status: 'RATED' });
    const record = await svc.request(`query($id: ID!) { usageRecord(id: $id) { lineId msisdn } }`, { id: res.data.recordUsage.results[0].id });
    expect(record.data?.usageRecord).toEqual({ lineId: spaced, msisdn: '+4915100009912' });
  });

  it('a subscribers event with ids usage cannot store is counted and acknowledged: the events after it still apply', async () => {
    const later = `lin_qe${run}`;
    const publish = async (data: object, key: string) => {
      const e = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.lineStateChanged.type, subject: key, time: new Date('2026-03-01T08:00:00Z'), data, key: [key] });
      await svc.runtime.messaging.js.publish(EVENTS.lineStateChanged.subject, JSON.stringify(e), { msgID: e.id });
    };
    const dropped = async () => {
      const text = await (await fetch(svc.url.replace(/\/graphql$/, '/metrics'))).text();
      return Number(/^ledgerline_usage_subscriber_events_dropped_total\{(?=[^}]*subject="billing\.subscribers\.line\.statechanged")(?=[^}]*reason="invalid")[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    await publish({ lineId: `lin_${'l'.repeat(60)}`, msisdn: '+4915100009913', billingAccountId: account, status: 'ACTIVE' }, `long-${run}`);
    await publish({ lineId: later, msisdn: `+49${'1'.repeat(40)}`, billingAccountId: account, status: 'ACTIVE' }, `number-${run}`);
    await publish({ lineId: later, msisdn: '+4915100009914', billingAccountId: account, status: 'ACTIVE' }, `fine-${run}`);
    await waitFor(async () => {
      const res = await svc.request(RECORD_USAGE, { input: { source: `qi-${run}`, records: [{ eventId: `after-events-${Date.now()}`, msisdn: '+4915100009914', usageType: 'SMS', quantity: '1', occurredAt: '2026-03-10T10:00:00Z' }] } });
      return res.data?.recordUsage.results[0].rejectionCode !== 'LINE_UNKNOWN';
    }, 15_000, 'the line event after the refused ones');
    // At least these two (the BILLING stream is shared: another run's broken line event would count here too).
    expect(await dropped()).toBeGreaterThanOrEqual(2);
  });
});
