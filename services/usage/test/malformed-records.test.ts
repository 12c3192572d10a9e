/**
 * Input PostgreSQL cannot store (a NUL character in text, the year 0000) is stored REJECTED with
 * its reason, and the valid records of the same batch are rated. Each used to fail the whole
 * batch's insert: GraphQL answered INTERNAL_SERVER_ERROR and, on JetStream, the batch was
 * redelivered for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { usageRuntimeOf } from '../src/usage-runtime';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const line = `lin_rv${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: '+4915100007701', account: `acc_rv${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const good = (eventId: string) => ({ eventId, lineId: line, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' });

describe('records PostgreSQL cannot store as they are', () => {
  it('an eventId with a NUL character is rejected, and the valid record beside it is rated', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `rv-${run}`, records: [good('ok-1'), { ...good('bad\u0000id') }] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage).toMatchObject({ rated: 1, rejected: 1 });
    const stored = await db.query(`select event_id, status, rejection_code, rejection_reason from usage_record where source = $1 and status = 'REJECTED'`, [`rv-${run}`]);
    expect(stored.rows).toEqual([{ event_id: 'bad\uFFFDid', status: 'REJECTED', rejection_code: 'RECORD_MALFORMED', rejection_reason: 'eventId contains a NUL character' }]);
  });

  it('an occurredAt in year 0000 (no such year in PostgreSQL) is rejected, and the valid record beside it is rated', async () => {
    const res = await svc.request(RECORD_USAGE, { input: { source: `rv-${run}`, records: [good('ok-2'), { ...good('year-zero'), occurredAt: '0000-01-01T00:00:00Z' }] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage).toMatchObject({ rated: 1, rejected: 1 });
  });

  it('two event ids too long that share their first 128 characters are two rejected records, not a record and its duplicate', async () => {
    const long = 'x'.repeat(128);
    const res = await svc.request(RECORD_USAGE, { input: { source: `rl-${run}`, records: [good(`${long}-a`), good(`${long}-b`)] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage).toMatchObject({ rated: 0, rejected: 2 });
    const stored = await db.query(`select event_id, rejection_code from usage_record where source = $1`, [`rl-${run}`]);
    expect(stored.rows).toEqual([{ event_id: long, rejection_code: 'EVENT_ID_INVALID' }, { event_id: long, rejection_code: 'EVENT_ID_INVALID' }]);
  });

  it('a message that is not JSON and holds a NUL (as from JetStream) is stored with its raw text', async () => {
    const usage = usageRuntimeOf(svc.runtime);
    const [outcome] = await usage.pipeline.process([{ raw: 'garbage\u0000here', source: 'nats', eventId: `nats:nul-${run}` }]);
    expect(outcome).toMatchObject({ status: 'REJECTED', rejectionCode: 'RECORD_MALFORMED' });
    const stored = await db.query(`select raw from usage_record where source = 'nats' and event_id = $1`, [`nats:nul-${run}`]);
    expect(stored.rows).toEqual([{ raw: 'garbage\uFFFDhere' }]);
  });
});
