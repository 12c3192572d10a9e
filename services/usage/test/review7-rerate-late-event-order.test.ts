/**
 * Review (seventh round): a re-rate after a late (out-of-order) event. Usage rates, and wallets
 * draws the allowance, in the order events arrive: a CDR that comes late finds the bundle already
 * used by the events rated before it and is charged as overage. The re-rate replays the period in
 * event-time order instead, so with the very same catalog it moves the allowance to the late event
 * and the overage to the earlier-rated one: a credit on one record and a charge on the other
 * (on prepaid without overdraft, the charge can be refused while the credit goes through). The
 * module promises "Running it again with the same catalog changes nothing".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, settleCharges, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r7o${run}`;
const account = `acc_r7o${run}`;
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007751', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('rerate after a late event', () => {
  it('with the same catalog, changes nothing: no credit and charge pair moving the bundle between records', async () => {
    // 10 March: the whole 20 GB bundle.
    let res = await svc.request(RECORD_USAGE, { input: { source: `r7o-${run}`, records: [{ eventId: 'on-time', lineId, usageType: 'DATA', quantity: '20480', occurredAt: '2026-03-10T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    // A CDR of 5 March arrives afterwards: the bundle is gone, it is overage. (The clock moves: a frozen
    // clock gives both batches one arrival time, and the order inside one arrival time is not stored.)
    clock.advance(60_000);
    res = await svc.request(RECORD_USAGE, { input: { source: `r7o-${run}`, records: [{ eventId: 'late', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-05T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    const before = (await db.query(`select event_id, from_allowance::text as a, spend::text as s from usage_record where line_id = $1 order by event_id`, [lineId])).rows;
    expect(before.map((r) => [r.event_id, Number(r.a), Number(r.s) > 0])).toEqual([['late', 0, true], ['on-time', 20480, false]]);
    // Wallets applied both as rated (in the order they came).
    expect(await settleCharges(db, [lineId])).toBeGreaterThan(0);

    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
