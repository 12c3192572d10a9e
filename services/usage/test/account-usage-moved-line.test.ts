/**
 * BillingAccount.usage after a line moved from one billing account to another: each account shows
 * its own records on the line (the old account used to show the new owner's usage as its own, the
 * same money on two accounts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_mv${run}`;
const accA = `acc_mva${run}`;
const accB = `acc_mvb${run}`;
const msisdn = '+4915100007721';

const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  // Account A's subscription from 1 January, ended on 10 March, when the line moved to account B.
  await setLine(svc, { lineId, msisdn, account: accA, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', subscriptionId: `sub_a${run}` });
  const sub = { paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_postpaid', planVersionId: 'plv_postpaid' };
  let res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: accA, status: 'ACTIVE', at: '2026-03-10T00:00:00Z', subscription: { ...sub, subscriptionId: `sub_a${run}`, startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-03-10T00:00:00Z' } } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: accB, status: 'ACTIVE', at: '2026-03-10T00:00:01Z', subscription: { ...sub, subscriptionId: `sub_b${run}`, startsAt: '2026-03-10T00:00:00Z' } } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const accountUsage = async (account: string, period?: string) => {
  const res = await svc.request(`{ _entities(representations: [{ __typename: "BillingAccount", id: "${account}" }]) { ... on BillingAccount { usage${period ? `(period: "${period}")` : ''} { spend events lines { lineId period spend events } } } } }`);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data._entities[0].usage as { spend: string; events: number };
};

describe('account usage of a line that changed accounts', () => {
  it("an account's live usage counts only its own records, not the next owner's", async () => {
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `mv-${run}`,
        records: [
          { eventId: 'under-a', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-05T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'under-b', lineId, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-15T10:00:00Z', roamingCountry: 'US' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(2);
    const { rows } = await db.query('select event_id, billing_account_id, spend::text from usage_record where line_id = $1 order by occurred_at', [lineId]);
    expect(rows.map((r) => [r.event_id, r.billing_account_id])).toEqual([['under-a', accA], ['under-b', accB]]);

    const b = await accountUsage(accB);
    expect(b.events).toBe(1);
    // Account A no longer has the line: B's 15 March usage is not A's.
    const aNow = await accountUsage(accA);
    expect(aNow.events, `account A now: ${JSON.stringify(aNow)}`).toBe(0);
    // Asked about 5 March (A's period), A shows its own 4.90 only.
    const aMarch5 = await accountUsage(accA, '2026-03-05');
    expect(aMarch5, `account A on 5 March: ${JSON.stringify(aMarch5)}`).toMatchObject({ events: 1, spend: '4.9' });
  });
});
