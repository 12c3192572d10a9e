/**
 * Re-rating (rerate-period.ts), beside review7-rerate-*.test.ts:
 * - a corrected version re-prices the records of its own plan only, also on a line whose plan
 *   changed in the month (the part before the change keeps its own prices), keeps the
 *   subscription's version as the record's plan_version_id and names the corrected one in the trace;
 * - a re-rate with the same catalog changes nothing whatever order the events arrived in (the
 *   replay follows the order they were rated in, as wallets drew the bundle).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { RECORD_USAGE, RERATE, UPSERT_LINE_CONTEXT as UPSERT, correctedPlan, setLine, settleCharges, startUsage } from './support';

// Postpaid correction: world roaming data at 0.39 instead of 0.49 per MB.
const postpaidFix = correctedPlan('postpaid-20gb.json', 'roaming-world-data', (params) => (params.pricePerUnit = '0.3900'));

let svc: TestService;
let db: pg.Client;
let close: () => Promise<void>;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  ({ svc, db, close } = await startUsage(clock, { plv_postpaid_fix: postpaidFix }));
});
afterAll(() => close?.());

describe('rerate with a corrected version on a line whose plan changed in the month', () => {
  it('re-prices the usage after the change only, stores the subscription version and names the corrected one in the trace', async () => {
    const account = `acc_rsc${run}`;
    const lineId = `lin_rsc${run}`;
    const msisdn = `+49154079${run.length}0031`;
    const sub = (id: string, planVersionId: string, startsAt: string, endsAt: string | null) => ({ subscriptionId: id, paymentMode: 'POSTPAID', currency: 'EUR', planCode: planVersionId, planVersionId, startsAt, endsAt });
    // Pay as you go until 15 March, then the 20 GB postpaid plan.
    await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_payg', paymentMode: 'POSTPAID', subscriptionId: `sub_a${run}`, startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    let res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: '2026-03-15T00:00:00Z', subscription: sub(`sub_a${run}`, 'plv_payg', '2026-03-01T00:00:00Z', '2026-03-15T00:00:00Z') } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: '2026-03-15T00:00:01Z', subscription: sub(`sub_b${run}`, 'plv_postpaid', '2026-03-15T00:00:00Z', null) } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();

    res = await svc.request(RECORD_USAGE, {
      input: {
        source: `rsc-${run}`,
        records: [
          { eventId: 'sms', lineId, usageType: 'SMS', quantity: '1', occurredAt: '2026-03-10T11:00:00Z', calledNumber: '+4930123456' },
          { eventId: 'call', lineId, usageType: 'VOICE', quantity: '600', occurredAt: '2026-03-10T12:00:00Z', calledNumber: '+4930123456' },
          { eventId: 'roaming', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-16T10:00:00Z', roamingCountry: 'US' },
        ],
      },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(3);
    expect(await settleCharges(db, [lineId])).toBe(3);
    const before = (await db.query(`select event_id, id, plan_version_id, spend::text as spend from usage_record where line_id = $1 order by event_id`, [lineId])).rows;
    expect(before.map((r) => [r.event_id, r.plan_version_id])).toEqual([['call', 'plv_payg'], ['roaming', 'plv_postpaid'], ['sms', 'plv_payg']]);

    const fixed = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_postpaid_fix' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    const roaming = before.find((r) => r.event_id === 'roaming')!;
    // Only the roaming data after the change: 10 MB at 0.49 → 0.39.
    expect(fixed.data.rerate).toEqual({ recordsRerated: 1, adjustments: [{ usageRecordId: roaming.id, previousPrice: '4.9', newPrice: '3.9' }] });
    const after = (await db.query(`select event_id, plan_version_id, status, spend::text as spend, rating from usage_record where line_id = $1 order by event_id`, [lineId])).rows;
    expect(after.map((r) => [r.event_id, r.plan_version_id, r.status])).toEqual([['call', 'plv_payg', 'RATED'], ['roaming', 'plv_postpaid', 'RERATED'], ['sms', 'plv_payg', 'RATED']]);
    const trace = JSON.parse(after.find((r) => r.event_id === 'roaming')!.rating);
    expect({ planVersionId: trace.planVersionId, subscriptionPlanVersionId: trace.subscriptionPlanVersionId }).toEqual({ planVersionId: 'plv_postpaid_fix', subscriptionPlanVersionId: 'plv_postpaid' });
  });
});

describe('a record a re-rate stored under the corrected version (before the fix)', () => {
  it('is put back under its subscription version by the next re-rate, no money moved', async () => {
    const lineId = `lin_rsh${run}`;
    const account = `acc_rsh${run}`;
    await setLine(svc, { lineId, msisdn: `+49154081${run.length}0051`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `rsh-${run}`, records: [{ eventId: 'h1', lineId, usageType: 'DATA', quantity: '500', occurredAt: '2026-03-03T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    expect(await settleCharges(db, [lineId])).toBe(1);
    // As the old code left it: out of the subscription version's sums.
    await db.query(`update usage_record set plan_version_id = 'plv_postpaid_fix', status = 'RERATED' where line_id = $1`, [lineId]);

    const again = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect(again.data.rerate).toEqual({ recordsRerated: 1, adjustments: [] });
    const { rows } = await db.query(`select plan_version_id, from_allowance::text as a, amount_charged::text as m from usage_record where line_id = $1`, [lineId]);
    expect(rows).toEqual([{ plan_version_id: 'plv_postpaid', a: '500.000000', m: '0.000000' }]);
  });
});

describe('rerate with the same catalog after events arrived out of order', () => {
  // 25,100 MB against a 20 GB (20,480 MB) bundle: which event takes the overage depends on the order.
  const events = [
    { eventId: 'a', quantity: '15000', occurredAt: '2026-03-10T10:00:00Z' },
    { eventId: 'b', quantity: '8000', occurredAt: '2026-03-12T10:00:00Z' },
    { eventId: 'c', quantity: '100', occurredAt: '2026-03-14T10:00:00Z' },
    { eventId: 'd', quantity: '2000', occurredAt: '2026-03-16T10:00:00Z' },
  ];
  const arrivals = ['dcba', 'bdac', 'cadb', 'abcd'];

  it.each(arrivals)('arrival order %s: no adjustment, nothing re-rated', async (order) => {
    const lineId = `lin_rso${order}${run}`;
    const account = `acc_rso${order}${run}`;
    await setLine(svc, { lineId, msisdn: `+49154080${arrivals.indexOf(order)}${run.length}0041`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    for (const id of order) {
      // Each event in a batch of its own, a little after the one before.
      clock.advance(1_000);
      const e = events.find((x) => x.eventId === id)!;
      const res = await svc.request(RECORD_USAGE, { input: { source: `rso-${order}-${run}`, records: [{ ...e, lineId, usageType: 'DATA' }] } });
      expect(res.data.recordUsage.rated, JSON.stringify(res)).toBe(1);
    }
    expect(await settleCharges(db, [lineId])).toBeGreaterThan(0);
    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
