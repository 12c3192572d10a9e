import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, EVENTS, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

async function record(records: Record<string, unknown>[], source = `test-${run}`) {
  const res = await svc.request(RECORD_USAGE, { input: { source, records } });
  expect(res.errors).toBeUndefined();
  return res.data.recordUsage;
}

async function charges(): Promise<ChargeRequest[]> {
  return storedChargeRequests(db);
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: 'lin_pre', msisdn: '+4915100000001', account: 'acc_pre', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: 'lin_post', msisdn: '+4915100000002', account: 'acc_post', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: 'lin_susp', msisdn: '+4915100000003', account: 'acc_susp', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', status: 'SUSPENDED' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('recordUsage', () => {
  it('rates prepaid data past the bundle, charges the overage once, and tracks live usage and the 80 % threshold', async () => {
    const events = [
      { eventId: 'd1', lineId: 'lin_pre', usageType: 'DATA', quantity: '8000', occurredAt: '2026-03-20T08:00:00Z' },
      { eventId: 'd2', msisdn: '+4915100000001', usageType: 'DATA', quantity: '300', occurredAt: '2026-03-20T09:00:00Z' },
      { eventId: 'd3', lineId: 'lin_pre', usageType: 'DATA', quantity: '3000', occurredAt: '2026-03-20T10:00:00Z' },
    ];
    const first = await record(events);
    expect(first).toMatchObject({ rated: 3, rejected: 0, duplicates: 0 });
    // Every event sent again: nothing is rated or charged twice.
    const again = await record(events);
    expect(again).toMatchObject({ rated: 0, rejected: 0, duplicates: 3 });

    const mine = (await charges()).filter((c) => c.lineId === 'lin_pre');
    expect(mine).toHaveLength(3);
    expect(new Set(mine.map((c) => c.chargeId)).size).toBe(3);
    expect(mine[0]).toMatchObject({ billingAccountId: 'acc_pre', paymentMode: 'PREPAID', currency: 'EUR', units: '8000', unit: 'MB', allowanceIds: ['data'], pricePerUnit: '0.02', allowOverdraft: false });

    // The bundle runs 30 days from the subscription's start (1 Jan): the period that holds 20 March began 2 March.
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "lin_pre" }]) { ... on Line { usage(period: "2026-03-20") { period periodStart periodEnd spend events allowances { allowanceId used allowance remaining usedRatio } totals { usageType quantity events } } } } }`);
    const u = usage.data._entities[0].usage;
    expect([u.period, u.periodStart, u.periodEnd]).toEqual(['2026-03-02', '2026-03-02T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
    // Without a period: the current one (the clock says 20 March).
    const current = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "lin_pre" }]) { ... on Line { usage { period spend } } } }`);
    expect(current.data._entities[0].usage).toEqual({ period: '2026-03-02', spend: u.spend });
    expect(u.allowances).toEqual([
      { allowanceId: 'data', used: '10240', allowance: '10240', remaining: '0', usedRatio: '1' },
      { allowanceId: 'sms', used: '0', allowance: '1000', remaining: '1000', usedRatio: '0' },
      { allowanceId: 'voice', used: '0', allowance: '60000', remaining: '60000', usedRatio: '0' },
    ]);
    // 11300 MB used, 10240 from the bundle: 1060 MB at 0.02 EUR.
    expect(dec(u.spend).eq('21.2')).toBe(true);
    expect(u.totals).toEqual([{ usageType: 'DATA', quantity: '11300', events: 3 }]);

    const thresholds = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload).data);
    expect(thresholds.map((t) => t.threshold).sort()).toEqual(['0.5', '0.8', '1']);
    // The plan's own rules, on the usage with each event counted: the event that reaches 50 %
    // (d1, 78 %) and the one that reaches 80 % (d2) ask for their notices, and d2 starts the
    // data-boost upsell; the event that uses the bundle up (d3) asks for the 100 % notice. Its
    // price was rated on the usage before it (81 %).
    const [d1, d2, d3] = first.results.map((r: { id: string }) => r.id);
    const trace = (await svc.request(`query($id: ID!) { usageRecord(id: $id) { status chargeStatus ratingTrace price { amount currency } } }`, { id: d3 })).data.usageRecord;
    expect(trace.status).toBe('RATED');
    expect(trace.chargeStatus).toBe('PENDING');
    expect(trace.ratingTrace.rules.map((r: { rule: string }) => r.rule).sort()).toEqual(['data-bundle', 'notify-data-100', 'offer-data-boost-at-80']);
    expect(trace.ratingTrace).toMatchObject({ allowanceId: 'data', planVersionId: 'plv_prepaid', chargedUnits: '3000', facts: { allowanceUsedRatio: '0.810547' }, factsAfter: { allowanceUsedRatio: '1' } });
    const notices = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageNotificationRequested.subject])).rows.map((r) => JSON.parse(r.payload).data);
    expect(notices.map((n) => [n.template, n.usageRecordId])).toEqual([['DATA_50_PERCENT', d1], ['DATA_80_PERCENT', d2], ['DATA_100_PERCENT', d3]]);
    const offers = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageOfferTriggered.subject])).rows.map((r) => JSON.parse(r.payload).data);
    expect(offers).toMatchObject([{ lineId: 'lin_pre', offerCode: 'DATA_BOOST_5GB', usageRecordId: d2 }]);
  });

  it("judges a late event by the line's status at the event's time: usage from before a suspension or a termination is still rated", async () => {
    const line = { lineId: 'lin_hist', msisdn: '+4915100000004', account: 'acc_hist', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' as const };
    await setLine(svc, { ...line, status: 'ACTIVE', at: '2026-01-01T00:00:00Z' });
    await setLine(svc, { ...line, status: 'SUSPENDED', at: '2026-02-10T00:00:00Z' });
    await setLine(svc, { ...line, status: 'TERMINATED', at: '2026-02-20T00:00:00Z' });
    // The CDRs arrive after the termination (roaming files come days late).
    const call = (eventId: string, occurredAt: string) => ({ eventId, lineId: 'lin_hist', usageType: 'VOICE', quantity: '60', occurredAt, calledNumber: '+4930123456' });
    const res = await record([call('h-active', '2026-02-05T08:00:00Z'), call('h-suspended', '2026-02-12T08:00:00Z'), call('h-terminated', '2026-02-25T08:00:00Z')]);
    expect(res.results.map((r: { status: string; rejectionCode: string | null }) => [r.status, r.rejectionCode ?? null])).toEqual([
      ['RATED', null],
      ['REJECTED', 'LINE_SUSPENDED'],
      ['REJECTED', 'LINE_TERMINATED'],
    ]);
    expect((await charges()).filter((c) => c.lineId === 'lin_hist').map((c) => c.occurredAt)).toEqual(['2026-02-05T08:00:00.000Z']);
  });

  it('gives a late event named by its number to the line that held the number then, not to the line it was given to since', async () => {
    const number = '+4915100000006';
    const old = { lineId: 'lin_num_old', msisdn: number, account: 'acc_num_old', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' as const };
    await setLine(svc, { ...old, status: 'ACTIVE', at: '2026-01-01T00:00:00Z' });
    await setLine(svc, { ...old, status: 'TERMINATED', at: '2026-02-01T00:00:00Z' });
    // The number goes to a new customer on 15 February.
    await setLine(svc, { lineId: 'lin_num_new', msisdn: number, account: 'acc_num_new', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', status: 'ACTIVE', at: '2026-02-15T00:00:00Z', startsAt: '2026-02-15T00:00:00Z' });
    const call = (eventId: string, occurredAt: string) => ({ eventId, msisdn: number, usageType: 'VOICE', quantity: '60', occurredAt, calledNumber: '+4930123456' });
    const res = await record([call('n-old', '2026-01-20T08:00:00Z'), call('n-gap', '2026-02-05T08:00:00Z'), call('n-new', '2026-02-20T08:00:00Z')]);
    expect(res.results.map((r: { status: string; rejectionCode: string | null }) => [r.status, r.rejectionCode ?? null])).toEqual([
      ['RATED', null],
      ['REJECTED', 'LINE_TERMINATED'],
      ['RATED', null],
    ]);
    const byLine = (await charges()).filter((c) => c.lineId === 'lin_num_old' || c.lineId === 'lin_num_new').map((c) => [c.lineId, c.billingAccountId, c.occurredAt]).sort();
    expect(byLine).toEqual([
      ['lin_num_new', 'acc_num_new', '2026-02-20T08:00:00.000Z'],
      ['lin_num_old', 'acc_num_old', '2026-01-20T08:00:00.000Z'],
    ]);
  });

  it('accrues a postpaid roaming charge and denies usage on a suspended line', async () => {
    const res = await record([
      { eventId: 'r1', lineId: 'lin_post', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-19T08:00:00Z', roamingCountry: 'US' },
      { eventId: 's1', lineId: 'lin_susp', usageType: 'VOICE', quantity: '60', occurredAt: '2026-03-19T08:00:00Z', calledNumber: '+4930123456' },
    ]);
    expect(res.results.map((r: { status: string }) => r.status)).toEqual(['RATED', 'REJECTED']);
    expect(res.results[1]).toMatchObject({ rejectionCode: 'LINE_SUSPENDED' });
    const roaming = (await charges()).find((c) => c.lineId === 'lin_post')!;
    expect(roaming).toMatchObject({ paymentMode: 'POSTPAID', allowanceIds: [], units: '10', pricePerUnit: '0.49', allowOverdraft: true });
    expect((await charges()).some((c) => c.lineId === 'lin_susp')).toBe(false);
  });

  it('rates a late event with the plan version in force at its time', async () => {
    await setLine(svc, { lineId: 'lin_chg', msisdn: '+4915100000004', account: 'acc_chg', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', at: '2026-01-01T00:00:00Z' });
    await setLine(svc, { lineId: 'lin_chg', msisdn: '+4915100000004', account: 'acc_chg', planVersionId: 'plv_payg', paymentMode: 'PREPAID', at: '2026-03-10T00:00:00Z' });
    const res = await record([
      { eventId: 'late', lineId: 'lin_chg', usageType: 'SMS', quantity: '1', occurredAt: '2026-03-05T08:00:00Z', calledNumber: '+4915199999999' },
      { eventId: 'now', lineId: 'lin_chg', usageType: 'SMS', quantity: '1', occurredAt: '2026-03-15T08:00:00Z', calledNumber: '+4915199999999' },
    ]);
    const { rows } = await db.query('select event_id, plan_version_id from usage_record where id = any($1) order by event_id', [res.results.map((r: { id: string }) => r.id)]);
    expect(rows).toEqual([
      { event_id: 'late', plan_version_id: 'plv_prepaid' },
      { event_id: 'now', plan_version_id: 'plv_payg' },
    ]);
  });

  it("counts live usage in the subscription's allowance periods, not calendar months", async () => {
    // A postpaid 20 GB plan (monthly fee) that started on 15 February at 10:00: its allowance
    // periods run 15th to 15th, the periods wallets grants the bundle for.
    clock.set('2026-04-06T12:00:00Z');
    await setLine(svc, { lineId: 'lin_mid', msisdn: '+4915100000005', account: 'acc_mid', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-02-15T10:00:00Z', at: '2026-02-15T10:00:00Z' });
    const res = await record([
      { eventId: 'm1', lineId: 'lin_mid', usageType: 'DATA', quantity: '15000', occurredAt: '2026-03-10T08:00:00Z' },
      // A new allowance period (15 March 10:00): the bundle is whole again, though the month is not.
      { eventId: 'm2', lineId: 'lin_mid', usageType: 'DATA', quantity: '18000', occurredAt: '2026-03-20T08:00:00Z' },
      // Still the period of 15 March, though April: 21000 MB > 20480 MB, the excess is charged.
      { eventId: 'm3', lineId: 'lin_mid', usageType: 'DATA', quantity: '3000', occurredAt: '2026-04-05T08:00:00Z' },
    ]);
    expect(res.rated).toBe(3);
    const { rows } = await db.query(`select event_id, from_allowance, spend from usage_record where line_id = 'lin_mid' order by occurred_at`);
    expect(rows.map((r) => [r.event_id, dec(r.from_allowance).toString(), dec(r.spend).toString()])).toEqual([
      ['m1', '15000', '0'],
      ['m2', '18000', '0'],
      // 520 MB over: as wallets charges it, the rated 20.12 (3000 MB on per-event tiers: 1024 at 1 cent, the rest
      // at 0.5) pro rata 520 / 3000, not the tariff run again on 520 MB (5.20; review 16).
      ['m3', '2480', '3.487467'],
    ]);
    const usageIn = async (period: string) =>
      (await svc.request(`query($p: String) { _entities(representations: [{ __typename: "Line", id: "lin_mid" }]) { ... on Line { usage(period: $p) { period periodStart periodEnd spend allowances { allowanceId used remaining } } } } }`, { p: period })).data._entities[0].usage;
    const march = await usageIn('2026-03-15');
    expect(march).toMatchObject({ period: '2026-03-15', periodStart: '2026-03-15T10:00:00.000Z', periodEnd: '2026-04-15T10:00:00.000Z', spend: '3.487467' });
    expect(march.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data')).toEqual({ allowanceId: 'data', used: '20480', remaining: '0' });
    expect(await usageIn('2026-03-01T00:00:00Z')).toMatchObject({ period: '2026-02-15', periodEnd: '2026-03-15T10:00:00.000Z', spend: '0' });
    // Thresholds are per allowance period: 50 % in February's, 50/80/100 % in March's.
    const crossed = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((t) => t.lineId === 'lin_mid')
      .map((t) => `${t.period} ${t.threshold}`)
      .sort();
    expect(crossed).toEqual(['2026-02-15 0.5', '2026-03-15 0.5', '2026-03-15 0.8', '2026-03-15 1']);
    const bad = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "lin_mid" }]) { ... on Line { usage(period: "2026-03") { period } } } }`);
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'period' });
  });

  it('refuses a batch above the documented maximum', async () => {
    const records = Array.from({ length: 1001 }, (_, i) => ({ eventId: `big${i}` }));
    const res = await svc.request(RECORD_USAGE, { input: { records } });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'USAGE_BATCH_TOO_LARGE', field: 'input.records' });
  });
});
