/**
 * A plan change on the day the line's allowance period began (or on a renewal day).
 *
 * Subscribers makes a plan change a new subscription from `effectiveAt` (fulfil-order.ts), and
 * wallets ends the old subscription's buckets there and grants the new one's allowances: a fresh
 * bundle. Usage counts in allowance periods named by their first day; the old subscription's
 * period ends at the subscription's end (linePeriodAt), and cut short on the day it began it is
 * named by its start instant, so it never shares a name - live counters, a re-rate's replay - with
 * the new subscription's period, which keeps the day. Threshold, notification and offer event ids
 * name the period by its start, so the new period's crossings are not taken as duplicates of the
 * old one's (emitted under the day's name before the change was known), and a subscription event
 * makes the line's counters load again from the records.
 *
 * Expected: the new subscription's bundle is counted from zero: its first 11,000 MB are in-bundle,
 * its 50 % crossing is announced for its own period, no 100 % crossing or "100 % used"
 * notification goes out; a re-rate of the month with the same catalog changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleFromAllowances, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_pc${run}`;
const account = `acc_pc${run}`;
const msisdn = '+4915100009401';
const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;

beforeAll(async () => {
  // The upgraded plan: a new version of the 20 GB postpaid plan (same allowance ids).
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_postpaid_v2: planDocument('postpaid-20gb.json') }), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  // Line activated on 10 March at 08:00 (its monthly allowance periods start on the 10th).
  await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', subscriptionId: `sub_a${run}`, startsAt: '2026-03-10T08:00:00Z', at: '2026-03-10T08:00:00Z' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const sub = (id: string, planVersionId: string, startsAt: string, endsAt: string | null) => ({ subscriptionId: id, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'POSTPAID_20GB', planVersionId, startsAt, endsAt });

describe('a plan change on the day the period began', () => {
  it("the new subscription's bundle starts from zero: in-bundle usage, its own 50 % crossing, no false 100 %", async () => {
    // 17,000 of the first bundle's 20,480 MB (83 %) in the morning.
    let res = await svc.request(RECORD_USAGE, { input: { source: `pc-${run}`, records: [{ eventId: 'morning', lineId, usageType: 'DATA', quantity: '17000', occurredAt: '2026-03-10T09:00:00Z' }] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);

    // Upgrade at noon (IMMEDIATE): the old subscription ends, the new one starts with a fresh 20,480 MB bundle.
    res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: '2026-03-10T12:00:00Z', subscription: sub(`sub_a${run}`, 'plv_postpaid', '2026-03-10T08:00:00Z', '2026-03-10T12:00:00Z') } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: '2026-03-10T12:00:01Z', subscription: sub(`sub_b${run}`, 'plv_postpaid_v2', '2026-03-10T12:00:00Z', null) } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();

    // 11,000 MB on the new plan in the afternoon: 54 % of the new bundle.
    res = await svc.request(RECORD_USAGE, { input: { source: `pc-${run}`, records: [{ eventId: 'afternoon', lineId, usageType: 'DATA', quantity: '11000', occurredAt: '2026-03-10T13:00:00Z' }] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);

    // A little more in the evening (the notify rules read the counters the event is rated against).
    res = await svc.request(RECORD_USAGE, { input: { source: `pc-${run}`, records: [{ eventId: 'evening', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-10T18:00:00Z' }] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);

    const { rows: [afternoon] } = await db.query(`select subscription_id, plan_version_id, from_allowance::text, spend::text from usage_record where line_id = $1 and event_id = 'afternoon'`, [lineId]);
    const thresholds = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((d) => d.lineId === lineId)
      .map((d) => `${d.periodStart} ${d.threshold}`)
      .sort();
    // Customer notifications asked for about the new subscription's period (12:00 on): 11,010 of 20,480 MB is the 50 % band.
    const notices = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageNotificationRequested.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((d) => d.lineId === lineId && d.periodStart === '2026-03-10T12:00:00.000Z')
      .map((d) => d.template);
    expect({ afternoon, thresholds, notices }).toEqual({
      afternoon: { subscription_id: `sub_b${run}`, plan_version_id: 'plv_postpaid_v2', from_allowance: '11000.000000', spend: '0.000000' },
      thresholds: [
        '2026-03-10T08:00:00.000Z 0.5',
        '2026-03-10T08:00:00.000Z 0.8',
        '2026-03-10T12:00:00.000Z 0.5',
      ],
      notices: ['DATA_50_PERCENT'],
    });
  });

  it('re-rating March with the same catalog charges nothing more (the new bundle is not replayed on top of the old one)', async () => {
    // What wallets settled: every unit of the three events came from a bundle (17,000 MB from the
    // first subscription's, 11,010 MB from the new one's); nothing was charged in money.
    await settleFromAllowances(db, 'u.line_id = $1', [lineId]);
    const res = await svc.request(`mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { previousPrice newPrice } } }`, { i: { billingAccountId: account, period: '2026-03' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
