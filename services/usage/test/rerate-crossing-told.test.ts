/**
 * A re-rate that takes a running period's bundle past a threshold tells the customer, as the event that crosses it
 * would (review, 2026-11-30).
 *
 * The customer is told that 80 % / 100 % of the bundle is used by the event that gets there, so a customer who stops
 * at the crossing still gets the notice, and before any later event is charged at the overage price
 * (notices-asked-by-the-crossing-event.test.ts). A re-rate that moves usage into the bundle (a catalog correction:
 * world-roaming data drawn from it) took the running month from 68 % to 83 % and asked for nothing: no 80 %
 * usageThresholdReached, no DATA_80_PERCENT notification, no upsell. Only the line's next event, if any, reported the
 * crossing (the reloaded counters' `fromRecords`), with its own charge. Spend alerts a re-rate reaches are told with
 * its adjustments (spend-alert-rerate.test.ts); the thresholds and notify / offer rules now are too, each once
 * (emitted_event: what was told before the re-rate is not told again), and only for periods still running (a period
 * already over tells nothing, as for spend alerts and offers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);

type Rule = { name: string; event: { params: Record<string, unknown> } };
// The catalog correction: world-roaming data comes out of the 20 GB data bundle first (it was priced per MB only).
const into = planDocument('postpaid-20gb.json') as { rules: Rule[] };
into.rules.find((r) => r.name === 'roaming-world-data')!.event.params.allowanceId = 'data';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_into_told: into }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

/** What was asked for about the line, in the order written: thresholds (allowance@threshold) and notifications / offers (template, offer code). */
const told = async (lineId: string) => {
  const rows = (await db.query('select subject, payload from outbox where subject = any($1::text[]) order by seq', [[EVENTS.usageThresholdReached.subject, EVENTS.usageNotificationRequested.subject, EVENTS.usageOfferTriggered.subject]])).rows;
  const data = rows.map((r) => ({ subject: r.subject as string, d: JSON.parse(r.payload).data })).filter((x) => x.d.lineId === lineId);
  return {
    thresholds: data.filter((x) => x.subject === EVENTS.usageThresholdReached.subject).map((x) => `${x.d.allowanceId}@${x.d.threshold} ${x.d.periodStart}`),
    notifications: data.filter((x) => x.subject === EVENTS.usageNotificationRequested.subject).map((x) => `${x.d.template} ${x.d.periodStart}`),
    offers: data.filter((x) => x.subject === EVENTS.usageOfferTriggered.subject).map((x) => `${x.d.offerCode} ${x.d.periodStart}`),
  };
};

const record = async (lineId: string, records: Record<string, unknown>[]) => {
  const res = await svc.request(RECORD_USAGE, { input: { source: `rt-${run}`, records: records.map((r) => ({ lineId, usageType: 'DATA', ...r })) } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(records.length);
};

describe('a re-rate that takes a running period past a threshold', () => {
  it('asks for the threshold, notification and offer the crossing asks for, once; the next event asks for none of them again', async () => {
    const lineId = `lin_rt${run}`;
    const account = `acc_rt${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100008811', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    // March (the running period): 14,000 of 20,480 MB at home (68 %), 3,000 MB roaming in the US priced per MB.
    await record(lineId, [
      { eventId: `${lineId}-home`, quantity: '14000', occurredAt: '2026-03-05T10:00:00Z' },
      { eventId: `${lineId}-us`, quantity: '3000', occurredAt: '2026-03-06T10:00:00Z', roamingCountry: 'US' },
    ]);
    await settleCharges(db, [lineId]);
    const before = await told(lineId);
    expect(before).toEqual({ thresholds: ['data@0.5 2026-03-01T00:00:00.000Z'], notifications: ['DATA_50_PERCENT 2026-03-01T00:00:00.000Z'], offers: [] });

    // Corrected: the US data comes out of the bundle, 17,000 of 20,480 MB (83 %).
    const res = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_into_told' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate.recordsRerated).toBe(1);
    const afterRerate = await told(lineId);
    expect(afterRerate).toEqual({
      thresholds: [...before.thresholds, 'data@0.8 2026-03-01T00:00:00.000Z'],
      notifications: [...before.notifications, 'DATA_80_PERCENT 2026-03-01T00:00:00.000Z'],
      offers: ['DATA_BOOST_5GB 2026-03-01T00:00:00.000Z'],
    });

    // The line's next event (85 %) is in the same band: nothing is asked for a second time.
    await record(lineId, [{ eventId: `${lineId}-home2`, quantity: '400', occurredAt: '2026-03-20T11:00:00Z' }]);
    expect(await told(lineId)).toEqual(afterRerate);
  });

  it('tells nothing about a period already over', async () => {
    const lineId = `lin_ru${run}`;
    const account = `acc_ru${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100008812', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    // February (over by now): the same usage, re-rated the same way.
    await record(lineId, [
      { eventId: `${lineId}-home`, quantity: '14000', occurredAt: '2026-02-05T10:00:00Z' },
      { eventId: `${lineId}-us`, quantity: '3000', occurredAt: '2026-02-06T10:00:00Z', roamingCountry: 'US' },
    ]);
    await settleCharges(db, [lineId]);
    const before = await told(lineId);
    const res = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-02', planVersionId: 'plv_into_told' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate.recordsRerated).toBe(1);
    expect(await told(lineId)).toEqual(before);
  });
});
