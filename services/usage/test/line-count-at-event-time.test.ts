/**
 * The `lineCount` fact is the account's line count at the event's time.
 *
 * The family plan gives 10 % off usage while the account has 4 or more lines
 * (`big-family-discount`: lineCount >= 4). Like the line's status and plan version (statusAt,
 * versionAt), the line count is judged at the event's time: the account's lines that were not
 * TERMINATED then (line-directory.ts keeps each account's count over time from the lines' status
 * histories, lineCountAt reads it). So, after one of four lines ended in April:
 *  - a March CDR that arrives late is priced with the discount the account had in March;
 *  - re-rating March with the catalog that rated it changes nothing (no dearer adjustments).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, settleCharges, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_lc${run}`;
const lines = [1, 2, 3, 4].map((n) => ({ lineId: `lin_lc${n}${run}`, msisdn: `+49151000098${n.toString().padStart(2, '0')}` }));
const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-04-10T12:00:00Z')) });
  db = await sqlOf(svc);
  // A family of four on the shared 50 GB plan since January.
  for (const l of lines) await setLine(svc, { ...l, account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', subscriptionId: `sub_${l.lineId}` });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

/** 10 MB of data in the US (WORLD roaming, 0.49 EUR/MB): 4.90 EUR, 4.41 EUR with the family discount. */
const roamingData = (eventId: string, lineId: string, occurredAt: string) => ({ eventId, lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt });

describe('the family discount follows the line count of the event’s time', () => {
  it('March is priced with the discount while four lines were in force, also when re-rated or late after a line ended in April', async () => {
    let res = await svc.request(RECORD_USAGE, { input: { source: `lc-${run}`, records: [roamingData('march-1', lines[0].lineId, '2026-03-05T10:00:00Z')] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
    expect((await db.query(`select price::text from usage_record where event_id = 'march-1' and line_id = $1`, [lines[0].lineId])).rows[0].price).toBe('4.410000');
    await settleCharges(db, lines.map((l) => l.lineId));

    // The fourth line is terminated on 5 April.
    const gone = lines[3];
    res = await svc.request(UPSERT, {
      input: {
        lineId: gone.lineId, msisdn: gone.msisdn, billingAccountId: account, status: 'TERMINATED', at: '2026-04-05T09:00:00Z',
        subscription: { subscriptionId: `sub_${gone.lineId}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_family', planVersionId: 'plv_family', status: 'ENDED', startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-04-05T09:00:00Z' },
      },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();

    // A March CDR that reaches usage late, after the termination.
    res = await svc.request(RECORD_USAGE, { input: { source: `lc-${run}`, records: [roamingData('march-late', lines[1].lineId, '2026-03-20T10:00:00Z')] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
    const late = (await db.query(`select price::text from usage_record where event_id = 'march-late' and line_id = $1`, [lines[1].lineId])).rows[0].price;
    await settleCharges(db, lines.map((l) => l.lineId));

    // March re-rated with the same catalog.
    const rerate = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(rerate.errors, JSON.stringify(rerate.errors)).toBeUndefined();

    expect({ lateMarchPrice: late, rerate: rerate.data.rerate }).toEqual({ lateMarchPrice: '4.410000', rerate: { recordsRerated: 0, adjustments: [] } });
  });

  it('follows the count as lines end and join: three lines on 6 April (no discount), four again after a line joined on 8 April', async () => {
    // A fifth line (the fourth in force) joins on 8 April.
    await setLine(svc, { lineId: `lin_lc5${run}`, msisdn: '+4915100009805', account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', at: '2026-04-08T09:00:00Z', startsAt: '2026-04-08T09:00:00Z' });
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `lc-${run}`,
        records: [roamingData('april-6', lines[0].lineId, '2026-04-06T10:00:00Z'), roamingData('april-9', lines[0].lineId, '2026-04-09T10:00:00Z')],
      },
    });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(2);
    const { rows } = await db.query(`select event_id, price::text from usage_record where source = $1 and event_id in ('april-6', 'april-9') order by event_id`, [`lc-${run}`]);
    // Four lines are in force now: the line that joined on 8 April does not count on the 6th.
    expect(Object.fromEntries(rows.map((r) => [r.event_id, r.price]))).toEqual({ 'april-6': '4.900000', 'april-9': '4.410000' });
  });
});
