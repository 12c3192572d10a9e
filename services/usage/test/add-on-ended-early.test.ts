/**
 * An add-on ended before it lapsed (subscribers' endAddOn): subscribers sends the subscription again
 * (subscription.changed) with the purchase's endsAt moved to the end, the same code and start. Usage
 * needs nothing new for it: the purchase counts while startsAt <= t < endsAt, so usage from the end
 * on is no longer rated from the add-on's allowance, and usage from before it (a late CDR) still is.
 * This pins that reading (it passed before endAddOn existed: no usage change was needed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_end${run}`;
const account = `acc_end${run}`;
const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;
const context = (at: string, passEndsAt: string) => ({
  lineId, msisdn: '+4915100007751', billingAccountId: account, status: 'ACTIVE', at,
  subscription: {
    subscriptionId: `sub_end${run}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', startsAt: '2026-03-01T00:00:00Z',
    addOns: [{ code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-03-01T00:00:00Z', endsAt: passEndsAt }],
  },
});

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
});
afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('an add-on ended early', () => {
  it('is counted until its end and not after: data after the end is not rated from its allowance, a late CDR from before still is', async () => {
    // Bought for 1–8 March; ended on 4 March 00:00 (the event comes then).
    let res = await svc.request(UPSERT, { input: context('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z') });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    res = await svc.request(UPSERT, { input: context('2026-03-04T00:00:00Z', '2026-03-04T00:00:00Z') });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    res = await svc.request(RECORD_USAGE, {
      input: {
        source: `end-${run}`,
        records: [
          { eventId: 'after-end', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-05T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'late-before-end', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-03T10:00:00Z', roamingCountry: 'US' },
        ],
      },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const { rows } = await db.query(`select event_id, allowance_id from usage_record where line_id = $1 order by event_id`, [lineId]);
    expect(rows.map((r) => [r.event_id, r.allowance_id])).toEqual([
      ['after-end', null],
      ['late-before-end', 'roam-pass-data'],
    ]);
  });
});
