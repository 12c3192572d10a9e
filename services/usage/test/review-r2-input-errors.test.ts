/**
 * Review R2 (2026-11-29, thirtieth session): input that usage's GraphQL passed on to PostgreSQL,
 * which refused it, answered INTERNAL_SERVER_ERROR instead of BAD_USER_INPUT naming the field
 * (CONVENTIONS rule 4):
 *
 *  - `recordUsage(input: { source })` with a NUL character: the record-level `source` and ids were
 *    checked (a record is stored REJECTED RECORD_MALFORMED), the batch's default was not. Every
 *    record of the call then carried it into the batch insert, which failed: the whole call was
 *    INTERNAL_SERVER_ERROR and the sender was not told what to fix;
 *  - `usageRecords(filter: { from / to })` with an instant outside the years 1..9999 (UTC): the
 *    DateTime scalar takes any four-digit year with an offset ("0000-01-01T00:00:00Z",
 *    "9999-12-31T23:59:59-23:59" is year 10000 in UTC), and PostgreSQL refused the value the ORM
 *    wrote for it ("date/time field value out of range"). First refused here (filter.from / filter.to,
 *    DATE_TIME_INVALID); since T1 the scalar itself refuses such an instant for every service;
 *  - `reprocessRejected(input: { ids / rejectionCode / lineId })` with a NUL character (an
 *    operator's paste): PostgreSQL refuses NUL in any text ("invalid byte sequence").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r2${run}`;
const account = `acc_r2${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100009931', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

/** The error's code and the field it names (null when none), or the data when it answered. */
async function outcome(query: string, variables?: Record<string, unknown>) {
  const res = await svc.request(query, variables);
  const e = res.errors?.[0];
  return e ? { code: e.extensions?.code, field: (e.extensions?.field as string | undefined) ?? null } : { data: res.data };
}

const BAD_INPUT = (field: string) => ({ code: 'BAD_USER_INPUT', field });
const sms = (eventId: string) => ({ eventId, lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' });

describe('review R2: bad input reaching PostgreSQL', () => {
  it("recordUsage: a NUL character in the batch's source is BAD_USER_INPUT naming input.source, nothing stored; the same records with a valid source rate", async () => {
    const bad = await outcome(RECORD_USAGE, { input: { source: `r2\u0000${run}`, records: [sms('n1'), sms('n2')] } });
    expect(bad).toEqual(BAD_INPUT('input.source'));
    expect((await db.query('select count(*)::int as n from usage_record where line_id = $1', [lineId])).rows[0].n).toBe(0);
    const good = await svc.request(RECORD_USAGE, { input: { source: `r2-${run}`, records: [sms('n1'), sms('n2')] } });
    expect(good.data?.recordUsage, JSON.stringify(good.errors)).toMatchObject({ rated: 2, rejected: 0, duplicates: 0 });
  });

  it('usageRecords: a from / to PostgreSQL cannot hold is refused by the DateTime scalar naming the filter field; the earliest and latest it can still page', async () => {
    const stored = await svc.request(RECORD_USAGE, { input: { source: `r2b-${run}`, records: [sms('p1'), sms('p2')] } });
    expect(stored.data?.recordUsage, JSON.stringify(stored.errors)).toMatchObject({ rated: 2 });
    // Since T1 (same day) the shared DateTime scalar refuses instants outside the UTC years 1..9999, before the
    // resolver: a variable is BAD_USER_INPUT naming its path in the message; an inline literal fails validation
    // (since session 31 with `extensions.field` naming it, as the platform's formatter derives it).
    const page = async (filter: Record<string, string>) => {
      const res = await svc.request(`query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 5) { totalCount edges { cursor } } }`, { f: { source: `r2b-${run}`, ...filter } });
      const e = res.errors?.[0];
      return e ? { code: e.extensions?.code, message: e.message } : { data: res.data };
    };
    const refused = (field: 'from' | 'to') => ({ code: 'BAD_USER_INPUT', message: expect.stringMatching(new RegExp(`at "f\\.${field}"; .*DateTime cannot represent .*between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59\\.999Z`)) });
    const answered = (n: number) => ({ data: { usageRecords: expect.objectContaining({ totalCount: n }) } });
    const literal = await outcome(`{ usageRecords(filter: { source: "r2b-${run}", to: "9999-12-31T23:59:59-23:59" }, first: 5) { totalCount } }`);
    expect({
      fromYearZero: await page({ from: '0000-01-01T00:00:00Z' }),
      fromBeforeYearOne: await page({ from: '0001-01-01T00:00:00+01:00' }),
      toYearZero: await page({ to: '0000-06-01T00:00:00Z' }),
      toAfter9999: await page({ to: '9999-12-31T23:59:59-23:59' }),
      literalAfter9999: literal,
      fromYearOne: await page({ from: '0001-01-01T00:00:00Z' }),
      toEndOf9999: await page({ to: '9999-12-31T23:59:59Z' }),
    }).toEqual({
      fromYearZero: refused('from'),
      fromBeforeYearOne: refused('from'),
      toYearZero: refused('to'),
      toAfter9999: refused('to'),
      literalAfter9999: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'filter.to' },
      fromYearOne: answered(2),
      toEndOf9999: answered(2),
    });
  });

  it('reprocessRejected: a NUL character in ids, rejectionCode or lineId is BAD_USER_INPUT naming the field', async () => {
    const REPROCESS = `mutation($input: ReprocessRejectedInput!) { reprocessRejected(input: $input) { rated stillRejected } }`;
    expect({
      ids: await outcome(REPROCESS, { input: { ids: ['usg_0', 'usg_\u0000'] } }),
      rejectionCode: await outcome(REPROCESS, { input: { rejectionCode: 'LINE_UNKNOWN\u0000' } }),
      lineId: await outcome(REPROCESS, { input: { lineId: `${lineId}\u0000` } }),
      fine: await outcome(REPROCESS, { input: { lineId } }),
    }).toEqual({
      ids: BAD_INPUT('input.ids'),
      rejectionCode: BAD_INPUT('input.rejectionCode'),
      lineId: BAD_INPUT('input.lineId'),
      fine: { data: { reprocessRejected: { rated: 0, stillRejected: 0 } } },
    });
  });
});
