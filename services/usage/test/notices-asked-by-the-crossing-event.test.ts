/**
 * The customer is told that 80 % / 100 % of the bundle is used by the event that gets there.
 *
 * A plan's notify and offer rules (`notify-data-80`: allowanceUsedRatio in [0.8, 1);
 * `notify-data-100`: >= 1; `offer-data-boost-at-80`: >= 0.8) read the usage with the event being
 * rated counted, while its pricing rules read the usage before it. So the event that takes the
 * bundle past 80 % asks for the 80 % notice, and the event that uses the bundle up asks for the
 * 100 % notice, before any later event is charged at the overage price; a customer who stops at
 * the crossing still gets the notice. (They used to read the usage before the event: each notice
 * came one event late, or never.)
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
const lineId = `lin_nt${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100009601', account: `acc_nt${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const record = async (eventId: string, quantity: string, occurredAt: string): Promise<string> => {
  const res = await svc.request(RECORD_USAGE, { input: { source: `nt-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity, occurredAt }] } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
  return res.data.recordUsage.results[0].id;
};

/** Notifications asked for about the line: template → the record that asked. */
const notices = async () =>
  Object.fromEntries(
    (await db.query('select payload from outbox where subject = $1', [EVENTS.usageNotificationRequested.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((d) => d.lineId === lineId)
      .map((d) => [d.template, d.usageRecordId]),
  );

describe('usage notifications are asked for by the event that crosses the threshold', () => {
  it('80 % with the event that passes 80 %, 100 % with the event that uses the bundle up (before any overage is charged)', async () => {
    const past80 = await record('e1', '8300', '2026-03-10T10:00:00Z'); // 8,300 of 10,240 MB: 81 %
    const afterFirst = await notices();
    const usedUp = await record('e2', '1940', '2026-03-10T11:00:00Z'); // 10,240 MB: used up
    const afterSecond = await notices();
    expect({ afterFirst, afterSecond }).toEqual({
      afterFirst: { DATA_80_PERCENT: past80 },
      afterSecond: { DATA_80_PERCENT: past80, DATA_100_PERCENT: usedUp },
    });
    // The upsell offer (>= 80 %) too: started by the event that passed 80 %, once.
    const offers = (await db.query('select payload from outbox where subject = $1', [EVENTS.usageOfferTriggered.subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId);
    expect(offers.map((d) => [d.offerCode, d.usageRecordId])).toEqual([['DATA_BOOST_5GB', past80]]);
  });
});
