/**
 * GUARD (2026-11-29): two different allowance periods of one line never share a name, so nothing
 * keyed by the name mixes them: the rating path's live counters (`line|period`, usage-pipeline.ts
 * countersOf), the counter loads and `Line.usage` sums (grouped by the name, joined by the period's
 * own start / end), a re-rate's replay. Written to check whether the naming of the sixth session
 * (a period cut short on the day it began is named by its start instant, see linePeriodAt) still
 * leaves a collision; it found none, and stays as a guard.
 *
 * Why none: a line's periods follow one another; two of them could share a day's name only if the
 * earlier one ended on the day it began. A period is at least a week long (WEEK, DAYS30, MONTH), so
 * it can only end that day where something cuts it: a renewal wallets made late or early (a
 * restart, bundle.renewed anchorAt) or the subscription's end (a plan change is a new subscription
 * from there). linePeriodAt names every period so cut by its start instant; the period after the
 * cut keeps the day. The names and periods are in UTC, so the account's time zone (a plan change at
 * the bill cycle's local midnight, an hour off the allowance boundary after a DST change) only moves
 * where the cut falls.
 *
 * What is exercised, each through recordUsage with the cut learned after usage of the period was
 * counted under the day's name (the rename and the reload of the line's counters):
 * - line 1: a monthly plan anchored at 22:00 UTC (local midnight in Berlin, summer) renews on
 *   30 November 22:00; an END_OF_CYCLE plan change at the cycle's local midnight in winter (23:00
 *   UTC) to a 30-day prepaid plan (another fee cadence, another size), and a second, IMMEDIATE change
 *   at 23:30 to a new version of the monthly plan: four periods start on 30 November, the last three
 *   that day (a one-hour one, a half-hour one, the new monthly one);
 * - line 2: a 30-day prepaid plan whose fee was due on 1 November 06:00, renewed late at 10:00 (a
 *   restart), then changed to the postpaid plan at 15:00 the same day.
 * Each period's bundle is counted from zero: every unit in-bundle, one 50 % crossing per period (and
 * the 80 % only where a period's own usage passed it), no 100 %; Line.usage asked by instant shows
 * each period's own usage and by the day the last period of that day; a re-rate of the months with
 * the same catalog adjusts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { allowancePeriodAt, createCloudEvent, EVENTS, type FeePeriod } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { linePeriodAt } from '../src/domain/period';
import { versionAt, type LineInfo, type SubscriptionVersion } from '../src/domain/subscriber';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, RERATE, UPSERT_LINE_CONTEXT, filePlanSource, planDocument, setLine, settleFromAllowances, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_pn${run}`;
const line1 = `lin_pn1${run}`;
const line2 = `lin_pn2${run}`;
const msisdn1 = `+4915178${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
const msisdn2 = `+4915179${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_postpaid_v2: planDocument('postpaid-20gb.json') }), consumers: ['bundles'], deliverNew: true }), {
    clock: new ManualClock(new Date('2026-12-02T12:00:00Z')),
  });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

type Sub = { id: string; planVersionId: string; paymentMode: 'PREPAID' | 'POSTPAID'; startsAt: string; endsAt: string | null };

async function upsert(lineId: string, msisdn: string, at: string, s: Sub): Promise<void> {
  const subscription = { subscriptionId: s.id, paymentMode: s.paymentMode, currency: 'EUR', planCode: s.planVersionId, planVersionId: s.planVersionId, startsAt: s.startsAt, endsAt: s.endsAt };
  const res = await svc.request(UPSERT_LINE_CONTEXT, { input: { lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at, subscription } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

async function record(lineId: string, eventId: string, quantity: string, occurredAt: string): Promise<void> {
  const res = await svc.request(RECORD_USAGE, { input: { source: `pn-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity, occurredAt }] } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
}

async function usageAt(lineId: string, period: string) {
  const res = await svc.request(
    `query($p: String) { _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: $p) { period periodStart periodEnd totals { usageType quantity } allowances { allowanceId used allowance remaining } } } } }`,
    { p: period },
  );
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const u = res.data._entities[0].usage;
  const data = u.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
  return { period: u.period, periodStart: u.periodStart, periodEnd: u.periodEnd, data: u.totals.find((t: { usageType: string }) => t.usageType === 'DATA')?.quantity ?? '0', used: data?.used, allowance: data?.allowance, remaining: data?.remaining };
}

async function records(lineId: string) {
  const { rows } = await db.query(`select event_id, from_allowance::text, spend::text from usage_record where line_id = $1 order by occurred_at`, [lineId]);
  return Object.fromEntries(rows.map((r) => [r.event_id, `${r.from_allowance} ${r.spend}`]));
}

async function crossings(lineId: string): Promise<string[]> {
  return (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows
    .map((r) => JSON.parse(r.payload).data)
    .filter((d) => d.lineId === lineId)
    // By the period's start: the payload's `period` is the name when the crossing was announced (a
    // period cut short on the day it began had the day's name until the cut was known).
    .map((d) => `${d.periodStart} ${d.threshold}`)
    .sort();
}

describe('allowance period names are unique per line', () => {
  it('two plan changes on a renewal day, at a DST-shifted local midnight and to another fee cadence: four periods, four counters', async () => {
    const a: Sub = { id: `sub_a${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-06-30T22:00:00Z', endsAt: null };
    await setLine(svc, { lineId: line1, msisdn: msisdn1, account, planVersionId: a.planVersionId, paymentMode: a.paymentMode, subscriptionId: a.id, startsAt: a.startsAt, at: a.startsAt });
    // The period before (30 October 22:00 - 30 November 22:00): 15,000 of 20,480 MB (73 %).
    await record(line1, 'a-before', '15000', '2026-11-30T20:00:00Z');
    // The renewed period, 30 November 22:00: 11,000 MB (53 %), counted under the day's name "2026-11-30".
    await record(line1, 'a-renewed', '11000', '2026-11-30T22:10:00Z');

    // END_OF_CYCLE change at the bill cycle's local midnight (Europe/Berlin, winter: 23:00 UTC) to the 30-day prepaid plan.
    await upsert(line1, msisdn1, '2026-11-30T23:00:00Z', { ...a, endsAt: '2026-11-30T23:00:00Z' });
    const b: Sub = { id: `sub_b${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', startsAt: '2026-11-30T23:00:00Z', endsAt: null };
    await upsert(line1, msisdn1, '2026-11-30T23:00:01Z', b);
    // 6,000 of the prepaid bundle's 10,240 MB (58 %).
    await record(line1, 'b', '6000', '2026-11-30T23:10:00Z');

    // A second change the same day, IMMEDIATE at 23:30, to a new version of the monthly plan.
    await upsert(line1, msisdn1, '2026-11-30T23:30:00Z', { ...b, endsAt: '2026-11-30T23:30:00Z' });
    await upsert(line1, msisdn1, '2026-11-30T23:30:01Z', { id: `sub_c${run}`, planVersionId: 'plv_postpaid_v2', paymentMode: 'POSTPAID', startsAt: '2026-11-30T23:30:00Z', endsAt: null });
    // 11,010 of the new 20,480 MB (53 %).
    await record(line1, 'c', '11000', '2026-11-30T23:40:00Z');
    await record(line1, 'c-more', '10', '2026-12-01T08:00:00Z');

    expect(await records(line1)).toEqual({
      'a-before': '15000.000000 0.000000',
      'a-renewed': '11000.000000 0.000000',
      b: '6000.000000 0.000000',
      c: '11000.000000 0.000000',
      'c-more': '10.000000 0.000000',
    });
    expect(await crossings(line1)).toEqual([
      '2026-10-30T22:00:00.000Z 0.5',
      '2026-11-30T22:00:00.000Z 0.5',
      '2026-11-30T23:00:00.000Z 0.5',
      '2026-11-30T23:30:00.000Z 0.5',
    ]);

    // Read back: each period by an instant in it; the day's name is the last period starting that day.
    expect(await usageAt(line1, '2026-11-30T21:00:00Z')).toEqual({ period: '2026-10-30', periodStart: '2026-10-30T22:00:00.000Z', periodEnd: '2026-11-30T22:00:00.000Z', data: '15000', used: '15000', allowance: '20480', remaining: '5480' });
    expect(await usageAt(line1, '2026-11-30T22:30:00Z')).toEqual({ period: '2026-11-30T22:00:00.000Z', periodStart: '2026-11-30T22:00:00.000Z', periodEnd: '2026-11-30T23:00:00.000Z', data: '11000', used: '11000', allowance: '20480', remaining: '9480' });
    expect(await usageAt(line1, '2026-11-30T23:15:00Z')).toEqual({ period: '2026-11-30T23:00:00.000Z', periodStart: '2026-11-30T23:00:00.000Z', periodEnd: '2026-11-30T23:30:00.000Z', data: '6000', used: '6000', allowance: '10240', remaining: '4240' });
    const current = { period: '2026-11-30', periodStart: '2026-11-30T23:30:00.000Z', periodEnd: '2026-12-30T23:30:00.000Z', data: '11010', used: '11010', allowance: '20480', remaining: '9470' };
    expect(await usageAt(line1, '2026-11-30')).toEqual(current);
    expect(await usageAt(line1, '2026-12-01T09:00:00Z')).toEqual(current);
  });

  it('a late renewal on the day its period began, then a plan change the same day: the lapse, the renewed bundle and the new plan each counted alone', async () => {
    const p: Sub = { id: `sub_p${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', startsAt: '2026-10-02T06:00:00Z', endsAt: null };
    await setLine(svc, { lineId: line2, msisdn: msisdn2, account, planVersionId: p.planVersionId, paymentMode: p.paymentMode, subscriptionId: p.id, startsAt: p.startsAt, at: p.startsAt });
    // 2 October - 1 November 06:00: 9,000 of 10,240 MB (88 %).
    await record(line2, 'p-before', '9000', '2026-10-31T12:00:00Z');
    // Before usage hears of the renewal: 500 MB at 07:00, counted under "2026-11-01" (the period on the old cadence).
    await record(line2, 'p-lapse', '500', '2026-11-01T07:00:00Z');

    // The fee due on 1 November 06:00 was covered by a top-up at 10:00: wallets restarts the periods there.
    const data = { subscriptionId: p.id, billingAccountId: account, lineId: line2, planVersionId: p.planVersionId, periodStart: '2026-11-01T10:00:00.000Z', periodEnd: '2026-12-01T10:00:00.000Z', anchorAt: '2026-11-01T10:00:00.000Z', lapsedAt: '2026-11-01T06:00:00.000Z', fee: { amount: '15.00', currency: 'EUR' }, allowancesGranted: 3, rollover: [] };
    const e = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.bundleRenewed.type, subject: data.subscriptionId, time: new Date('2026-11-01T10:00:00Z'), data, key: [data.subscriptionId, data.periodStart] });
    await svc.runtime.messaging.js.publish(EVENTS.bundleRenewed.subject, JSON.stringify(e), { msgID: e.id });
    // Known to the directory (and the line's counters dropped after it) once the lapse reads as its own period.
    await waitFor(async () => (await usageAt(line2, '2026-11-01T07:00:00Z')).periodEnd === '2026-11-01T10:00:00.000Z', 10_000, 'the restart to reach usage');
    await new Promise((r) => setTimeout(r, 200));

    // 6,000 MB of the renewed bundle (58 %).
    await record(line2, 'p-renewed', '6000', '2026-11-01T11:00:00Z');
    // IMMEDIATE plan change at 15:00 to the monthly postpaid plan.
    await upsert(line2, msisdn2, '2026-11-01T15:00:00Z', { ...p, endsAt: '2026-11-01T15:00:00Z' });
    await upsert(line2, msisdn2, '2026-11-01T15:00:01Z', { id: `sub_q${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-11-01T15:00:00Z', endsAt: null });
    // 11,000 of 20,480 MB (53 %).
    await record(line2, 'q', '11000', '2026-11-01T16:00:00Z');

    const stored = await records(line2);
    expect({ ...stored, 'p-lapse': undefined }).toEqual({ 'p-before': '9000.000000 0.000000', 'p-lapse': undefined, 'p-renewed': '6000.000000 0.000000', q: '11000.000000 0.000000' });
    expect(await crossings(line2)).toEqual([
      '2026-10-02T06:00:00.000Z 0.5',
      '2026-10-02T06:00:00.000Z 0.8',
      '2026-11-01T10:00:00.000Z 0.5',
      '2026-11-01T15:00:00.000Z 0.5',
    ]);

    expect(await usageAt(line2, '2026-11-01T07:00:00Z')).toMatchObject({ period: '2026-11-01T06:00:00.000Z', periodStart: '2026-11-01T06:00:00.000Z', periodEnd: '2026-11-01T10:00:00.000Z', data: '500' });
    expect(await usageAt(line2, '2026-11-01T12:00:00Z')).toEqual({ period: '2026-11-01T10:00:00.000Z', periodStart: '2026-11-01T10:00:00.000Z', periodEnd: '2026-11-01T15:00:00.000Z', data: '6000', used: '6000', allowance: '10240', remaining: '4240' });
    expect(await usageAt(line2, '2026-11-01')).toEqual({ period: '2026-11-01', periodStart: '2026-11-01T15:00:00.000Z', periodEnd: '2026-12-01T15:00:00.000Z', data: '11000', used: '11000', allowance: '20480', remaining: '9480' });
  });

  it('re-rating the months with the same catalog adjusts nothing (the replay keeps the periods apart)', async () => {
    await settleFromAllowances(db, 'u.line_id = any($1::text[])', [[line1, line2]]);
    for (const period of ['2026-10', '2026-11', '2026-12']) {
      const res = await svc.request(RERATE, { i: { billingAccountId: account, period } });
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      expect(res.data.rerate.adjustments, period).toEqual([]);
    }
  });

  it('linePeriodAt over random histories (plan changes and restarts near period starts, three cadences): one period per name', () => {
    // Seeded (mulberry32), so a failure reproduces.
    let seed = 20261129;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const HOUR = 3_600_000;
    const cadences: FeePeriod[] = ['MONTH', 'DAYS30', 'WEEK'];
    const clashes: string[] = [];
    let named = 0;
    for (let history = 0; history < 300; history++) {
      const versions: SubscriptionVersion[] = [];
      const restarts: Record<string, Date[]> = {};
      const feeOf = new Map<string, FeePeriod>();
      let start = new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 60 * 24) * HOUR);
      const subscriptions = 1 + Math.floor(random() * 4);
      for (let i = 0; i < subscriptions; i++) {
        const id = `s${i}`;
        const fee = cadences[Math.floor(random() * 3)]!;
        feeOf.set(id, fee);
        // Restarts (late or early renewals): often a few hours after a period began, else anywhere.
        let anchor = start;
        let cursor = start;
        const own: Date[] = [];
        for (let k = Math.floor(random() * 3); k > 0; k--) {
          const p = allowancePeriodAt(anchor, fee, new Date(cursor.getTime() + Math.floor(random() * 40 * 24) * HOUR));
          const r = new Date((random() < 0.6 ? p.start.getTime() : cursor.getTime()) + (1 + Math.floor(random() * 20)) * HOUR);
          if (r <= cursor) continue;
          own.push(r);
          anchor = cursor = r;
        }
        restarts[id] = own;
        // The end (a plan change: the next subscription starts there): often on the day a period began, sometimes the same hour.
        const last = i === subscriptions - 1;
        const p = allowancePeriodAt(anchor, fee, new Date(cursor.getTime() + Math.floor(random() * 40 * 24) * HOUR));
        const end = last ? null : new Date(Math.max(cursor.getTime() + HOUR, (random() < 0.7 ? p.start.getTime() : cursor.getTime()) + Math.floor(random() * 24) * HOUR + 1));
        versions.push({ subscriptionId: id, validFrom: start, billingAccountId: 'acc', paymentMode: 'PREPAID', currency: 'EUR', planCode: fee, planVersionId: fee, status: 'ACTIVE', endsAt: end, addOns: [] });
        if (end) start = end;
      }
      const line: LineInfo = { lineId: 'lin', msisdn: null, billingAccountId: 'acc', status: 'ACTIVE', lineCount: 1, versions, restarts };
      // Every period met, hour by hour (each is at least an hour long here), by name.
      const periods = new Map<string, string>();
      for (let t = versions[0]!.validFrom.getTime(); t < start.getTime() + 70 * 24 * HOUR; t += HOUR) {
        const at = new Date(t);
        const v = versionAt(line, at)!;
        const p = linePeriodAt(line, v, feeOf.get(v.subscriptionId), at);
        const identity = `${p.start.toISOString()}..${p.end.toISOString()}`;
        if (!(p.start <= at && at < p.end) || (periods.get(p.period) ?? identity) !== identity) clashes.push(`history ${history} at ${at.toISOString()}: ${p.period} = ${identity}, was ${periods.get(p.period)}`);
        periods.set(p.period, identity);
      }
      named += periods.size;
    }
    expect(clashes.slice(0, 5)).toEqual([]);
    expect(named).toBeGreaterThan(1000);
  });
});
