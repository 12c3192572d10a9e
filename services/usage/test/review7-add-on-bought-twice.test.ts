/**
 * Review (seventh round): an add-on bought twice in one allowance period (a 7-day World roaming
 * pass, 1 GB, bought for two trips in the same 30-day bundle period). Usage counts an allowance in
 * the line's allowance period (`line|period` counters, live usage sums by period and allowance id),
 * so the second pass starts "used up" by the first one: its data is estimated as overage at
 * 0.99 EUR/MB, Line.usage shows the fresh pass with nothing remaining, and its 50/80/100 %
 * thresholds never fire. Wallets grants each pass its own 1 GB bucket for its own 7 days.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r7a${run}`;
const account = `acc_r7a${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  // 30-day prepaid bundle from 1 March; a World roaming pass for 1–8 March and another for 10–17 March.
  const res = await svc.request(`mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`, {
    input: {
      lineId, msisdn: '+4915100007741', billingAccountId: account, status: 'ACTIVE', at: '2026-03-01T00:00:00Z',
      subscription: {
        subscriptionId: `sub_r7a${run}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', startsAt: '2026-03-01T00:00:00Z',
        addOns: [
          { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-03-01T00:00:00Z', endsAt: '2026-03-08T00:00:00Z' },
          { code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-03-10T00:00:00Z', endsAt: '2026-03-17T00:00:00Z' },
        ],
      },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('an add-on bought twice in one allowance period', () => {
  it('the second pass has its own allowance: rated from it, shown with what is left of it, and its thresholds fire', async () => {
    // First trip: the whole first pass.
    let res = await svc.request(RECORD_USAGE, { input: { source: `r7a-${run}`, records: [{ eventId: 'trip1', lineId, usageType: 'DATA', quantity: '1024', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'US' }] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(1);
    // Second trip, on the second pass: half of it.
    res = await svc.request(RECORD_USAGE, { input: { source: `r7a-${run}`, records: [{ eventId: 'trip2', lineId, usageType: 'DATA', quantity: '512', occurredAt: '2026-03-11T10:00:00Z', roamingCountry: 'US' }] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(1);

    const { rows } = await db.query(`select event_id, allowance_id, from_allowance::text as from_allowance, spend::text as spend from usage_record where line_id = $1 order by occurred_at`, [lineId]);
    expect(rows.map((r) => [r.event_id, r.allowance_id])).toEqual([['trip1', 'roam-pass-data'], ['trip2', 'roam-pass-data']]);
    const trip2 = rows[1];
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-11T12:00:00Z") { spend allowances { allowanceId used remaining } } } } }`);
    expect(usage.errors, JSON.stringify(usage.errors)).toBeUndefined();
    const pass = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'roam-pass-data');
    const thresholds = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((d) => d.lineId === lineId && d.allowanceId === 'roam-pass-data' && d.usageRecordId && d.threshold === '0.5')
      .length;

    expect({
      trip2: { fromAllowance: dec(trip2.from_allowance).toString(), spend: dec(trip2.spend).toString() },
      remainingOfSecondPass: pass && dec(pass.remaining).toString(),
      fiftyPercentNotices: thresholds,
    }).toEqual({
      trip2: { fromAllowance: '512', spend: '0' },
      remainingOfSecondPass: '512',
      // One for the first pass (it went 0 → 100 %), one for the second (0 → 50 %).
      fiftyPercentNotices: 2,
    });
  });
});
