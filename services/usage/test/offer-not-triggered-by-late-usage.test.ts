/**
 * An upsell offer is about the allowance period the customer is in: usage of a period that has
 * already ended (a late CDR, e.g. a roaming file days after the fact) starts none.
 *
 * A plan's `offer` rule (`offer-data-boost-at-80`: allowanceUsedRatio >= 0.8) fired on every rated
 * event, late ones too: a record from last period arriving after that period ended, taking it past
 * 80 %, emitted usageOfferTriggered for the ended period, and the worker's bridge started an upsell
 * offer ("Running low? Add DATA_BOOST_5GB for 5.00 EUR") while the customer's current bundle was
 * fresh; an add-on bought on it starts now and does nothing for the period that triggered it.
 * Thresholds and notifications of the late event are facts about that period and stay as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_lo${run}`;

beforeAll(async () => {
  // The bundle runs 30 days from the subscription's start (1 Jan): 2 March - 1 April, then 1 April - 1 May.
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-04-03T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100009801', account: `acc_lo${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const record = async (eventId: string, quantity: string, occurredAt: string): Promise<string> => {
  const res = await svc.request(RECORD_USAGE, { input: { source: `lo-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity, occurredAt }] } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
  return res.data.recordUsage.results[0].id;
};

const eventsOf = async (subject: string) =>
  (await db.query('select payload from outbox where subject = $1 order by seq', [subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId);

describe('upsell offers are triggered by usage of the running period only', () => {
  it('a late record taking an ended period past 80 % starts no offer; the same crossing in the running period does', async () => {
    const late = await record('late', '8300', '2026-03-25T10:00:00Z'); // 81 % of March's 10,240 MB, rated on 3 April
    // The late record still crosses its period's threshold and asks for its notice (facts about that period).
    expect((await eventsOf(EVENTS.usageNotificationRequested.subject)).map((d) => [d.template, d.period, d.usageRecordId])).toEqual([['DATA_80_PERCENT', '2026-03-02', late]]);
    expect(await eventsOf(EVENTS.usageOfferTriggered.subject)).toEqual([]);

    const current = await record('now', '8300', '2026-04-02T10:00:00Z'); // 81 % of April's bundle
    expect((await eventsOf(EVENTS.usageOfferTriggered.subject)).map((d) => [d.offerCode, d.period, d.usageRecordId])).toEqual([['DATA_BOOST_5GB', '2026-04-01', current]]);
  });
});
