/**
 * Units wallets rolled over into a period count in the allowance's size for live usage.
 *
 * Wallets carries unused allowance over at a renewal (`percent` of what is left, ≤ `maxQuantity`)
 * into a priority-50 bucket of the new period, drawn first, and says so in bundle.renewed
 * (`rollover: [{ allowanceId, quantity, shared }]`). Usage sized each allowance from the plan alone:
 * `Line.usage` showed less remaining than the customer had, the 80 % / 100 % thresholds and their
 * notices fired early and records were estimated as overage although wallets then charged them
 * from the rollover bucket.
 *
 * Expected: a line whose period starts with N rolled-over units has plan + N included; 80 % fires
 * at 80 % of plan + N; usage up to plan + N is in the bundle; a shared pool likewise when the
 * renewal that opened it carried units; a renewal event arriving after the period's first records
 * corrects the counters (a threshold already announced is not announced again); a re-rate of the
 * month with the same catalog replays the period with the rollover too and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, dec, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, settleCharges, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const msisdnOf = (i: number) => `+4915179${String(i)}${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bundles'], deliverNew: true }), { clock: new ManualClock(new Date('2026-05-20T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

/** wallets' bundle.renewed of an on-time renewal on 1 May (monthly periods from 1 April). */
async function renewed(lineId: string, account: string, planVersionId: string, rollover: { allowanceId: string; quantity: string; shared?: boolean }[]) {
  const data = { subscriptionId: `sub_${lineId}`, billingAccountId: account, lineId, planVersionId, periodStart: '2026-05-01T00:00:00.000Z', periodEnd: '2026-06-01T00:00:00.000Z', anchorAt: '2026-04-01T00:00:00.000Z', lapsedAt: null, fee: null, allowancesGranted: 3, rollover };
  const e = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.bundleRenewed.type, subject: data.subscriptionId, time: new Date('2026-05-01T00:00:00Z'), data, key: [data.subscriptionId, data.periodStart] });
  for (let i = 0; i < 2; i++) await svc.runtime.messaging.js.publish(EVENTS.bundleRenewed.subject, JSON.stringify(e), { msgID: `${e.id}-${i}` }); // delivered twice
  await waitFor(async () => (await db.query('select 1 from period_anchor where subscription_id = $1', [data.subscriptionId])).rowCount, 10_000, 'the renewal to reach usage');
}

async function data(lineId: string, eventId: string, mb: string, day: number) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `ro-${lineId}`, records: [{ eventId, lineId, usageType: 'DATA', quantity: mb, occurredAt: `2026-05-${String(day).padStart(2, '0')}T10:00:00Z` }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

const spends = async (lineIds: string[]) =>
  Object.fromEntries((await db.query(`select event_id, from_allowance, spend from usage_record where line_id = any($1)`, [lineIds])).rows.map((r) => [r.event_id, [dec(r.from_allowance).toString(), dec(r.spend).toString()]]));
const thresholds = async (subject: string) =>
  (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload)).filter((e) => e.subject === subject).map((e) => [e.data.allowanceId, e.data.threshold]);
const dataAllowance = async (lineId: string, allowanceId: string) =>
  (await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-05-01") { allowances { allowanceId used allowance remaining usedRatio } } } } }`)).data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === allowanceId);

describe('rolled-over units in live usage', () => {
  it("a line's period that starts with 10,240 rolled-over MB holds 20,480 + 10,240: shown, thresholds at 80 % of 30,720, in-bundle up to it", async () => {
    const lineId = `lin_ro1${run}`;
    await setLine(svc, { lineId, msisdn: msisdnOf(1), account: `acc_ro1${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    await renewed(lineId, `acc_ro1${run}`, 'plv_postpaid', [{ allowanceId: 'data', quantity: '10240', shared: false }]);

    await data(lineId, 'a', '16384', 2); // 53 % of 30,720 (80 % of the plan alone)
    expect(await thresholds(lineId)).toEqual([['data', '0.5']]);
    await data(lineId, 'b', '8192', 3); // 24,576: 80 %
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8']]);
    await data(lineId, 'c', '6144', 4); // 30,720: 100 %, still in the bundle
    await data(lineId, 'd', '100', 5); // over
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8'], ['data', '1']]);
    const s = await spends([lineId]);
    expect([s.a, s.b, s.c, s.d[0]]).toEqual([['16384', '0'], ['8192', '0'], ['6144', '0'], '0']);
    expect(dec(s.d[1]).isPositive()).toBe(true);
    expect(await dataAllowance(lineId, 'data')).toEqual({ allowanceId: 'data', used: '30720', allowance: '30720', remaining: '0', usedRatio: '1' });

    // Wallets charged a, b and c from the buckets (the rollover first) and d as overage: a re-rate with the same catalog agrees.
    await settleCharges(db, [lineId]);
    const res = await svc.request(`mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { previousPrice newPrice } } }`, { i: { billingAccountId: `acc_ro1${run}`, period: '2026-05' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });

  it("shows included = plan + rollover and what remains of it in Line.usage", async () => {
    const lineId = `lin_ro2${run}`;
    await setLine(svc, { lineId, msisdn: msisdnOf(2), account: `acc_ro2${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    await renewed(lineId, `acc_ro2${run}`, 'plv_postpaid', [{ allowanceId: 'data', quantity: '5000.5', shared: false }]);
    await data(lineId, 'a', '1000', 2);
    expect(await dataAllowance(lineId, 'data')).toEqual({ allowanceId: 'data', used: '1000', allowance: '25480.5', remaining: '24480.5', usedRatio: '0.0392' });
  });

  it('the renewal event arriving after the period\'s first records corrects the counters; a threshold already announced is not announced again', async () => {
    const lineId = `lin_ro3${run}`;
    await setLine(svc, { lineId, msisdn: msisdnOf(3), account: `acc_ro3${run}`, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    await data(lineId, 'a', '16384', 2); // 80 % of the plan: usage does not know of the rollover yet
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8']]);
    await renewed(lineId, `acc_ro3${run}`, 'plv_postpaid', [{ allowanceId: 'data', quantity: '10240', shared: false }]);
    await waitFor(async () => (await dataAllowance(lineId, 'data'))?.allowance === '30720', 10_000, 'the rollover to show');
    await data(lineId, 'b', '4096', 3); // 20,480: the plan's size, 67 % of 30,720
    await data(lineId, 'c', '4096', 4); // 24,576: 80 % again, announced before
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8']]);
    await data(lineId, 'd', '6144', 5); // 30,720: 100 %
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8'], ['data', '1']]);
    const s = await spends([lineId]);
    expect([s.a, s.b, s.c, s.d]).toEqual([['16384', '0'], ['4096', '0'], ['4096', '0'], ['6144', '0']]);
    expect(await dataAllowance(lineId, 'data')).toEqual({ allowanceId: 'data', used: '30720', allowance: '30720', remaining: '0', usedRatio: '1' });
  });

  it("a shared pool whose renewal carried 12,800 MB holds 51,200 + 12,800 for the account's lines", async () => {
    const account = `acc_ro4${run}`;
    const lines = [1, 2].map((i) => `lin_ro4${i}${run}`);
    for (const [i, lineId] of lines.entries()) await setLine(svc, { lineId, msisdn: msisdnOf(4 + i), account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    // The first line's renewal opened May's pool and carried 25 % of April's into it.
    await renewed(lines[0], account, 'plv_family', [{ allowanceId: 'family-data', quantity: '12800', shared: true }]);
    await data(lines[0], 'a', '25600', 2); // 40 % of 64,000
    await data(lines[1], 'b', '25600', 3); // 51,200: 80 % (100 % of the plan alone)
    expect(await thresholds(account)).toEqual([['family-data', '0.5'], ['family-data', '0.8']]);
    await data(lines[1], 'c', '12800', 4); // 64,000: 100 %, in the pool
    expect(await thresholds(account)).toEqual([['family-data', '0.5'], ['family-data', '0.8'], ['family-data', '1']]);
    const s = await spends(lines);
    expect([s.a, s.b, s.c]).toEqual([['25600', '0'], ['25600', '0'], ['12800', '0']]);
    for (const lineId of lines) expect(await dataAllowance(lineId, 'family-data')).toEqual({ allowanceId: 'family-data', used: '64000', allowance: '64000', remaining: '0', usedRatio: '1' });

    await settleCharges(db, lines);
    const res = await svc.request(`mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { previousPrice newPrice } } }`, { i: { billingAccountId: account, period: '2026-05' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
