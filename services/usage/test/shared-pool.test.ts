/**
 * A family of three lines on one account shares a 50 GB data pool: every line draws from the one
 * pool, its thresholds fire once per account, and Line.usage / BillingAccount.usage show the pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-05-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_fam${run}`;
const lines = [1, 2, 3].map((i) => `lin_fam${i}${run}`);

async function data(line: string, eventId: string, mb: string, day: number) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `fam-${run}`, records: [{ eventId, lineId: line, usageType: 'DATA', quantity: mb, occurredAt: `2026-05-${String(day).padStart(2, '0')}T10:00:00Z` }] } });
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
  db = await sqlOf(svc);
  for (const [i, line] of lines.entries()) {
    await setLine(svc, { lineId: line, msisdn: `+4915400000${i}${run.length}`, account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', startsAt: '2026-05-01T00:00:00Z', at: '2026-05-01T00:00:00Z' });
  }
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const LINE_USAGE = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Line { id usage(period: "2026-05-01") { allowances { allowanceId shared used usedByLine allowance remaining usedRatio } spend } } } }`;
const ACCOUNT_USAGE = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on BillingAccount { usage(period: "2026-05-01") { allowances { allowanceId shared used usedByLine allowance remaining usedRatio } lines { lineId } spend } } } }`;

describe('shared (pool) allowances', () => {
  it('counts every line of the account against one pool, fires its thresholds once per account, and shows the pool on lines and the account', async () => {
    await data(lines[0], 'a1', '20480', 2); // 40 % of the 51,200 MB pool
    await data(lines[1], 'b1', '10240', 3); // 60 %: crosses 50 % (line 2's own use is only 20 %)
    await data(lines[1], 'b2', '10240', 4); // 80 %
    await data(lines[2], 'c1', '15360', 5); // pool empty after 10,240 MB: 5,120 MB at 0.01 EUR
    await data(lines[0], 'a2', '100', 6); // all priced

    const records = (await db.query(`select event_id, from_allowance::text, spend::text from usage_record where billing_account_id = $1 order by event_id`, [account])).rows;
    const byEvent = Object.fromEntries(records.map((r) => [r.event_id, [dec(r.from_allowance).toString(), dec(r.spend).toString()]]));
    expect(byEvent).toEqual({ a1: ['20480', '0'], b1: ['10240', '0'], b2: ['10240', '0'], c1: ['10240', '51.2'], a2: ['0', '1'] });

    // 50 / 80 / 100 % of the pool, each once, for the account (not per line).
    const thresholds = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload));
    const pool = thresholds.filter((e) => e.data.billingAccountId === account);
    expect(pool.map((e) => [e.subject, e.data.allowanceId, e.data.threshold, e.data.shared, e.data.lineId])).toEqual([
      [account, 'family-data', '0.5', true, lines[1]],
      [account, 'family-data', '0.8', true, lines[1]],
      [account, 'family-data', '1', true, lines[2]],
    ]);
    const notices = (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageNotificationRequested.subject])).rows.map((r) => JSON.parse(r.payload)).filter((e) => e.data.billingAccountId === account);
    expect(new Set(notices.map((e) => e.data.template)).size).toBe(notices.length);
    // Each asked for by the event that took the pool into the rule's band (notify rules read the pool with the event counted), once for the account.
    expect(notices.map((e) => [e.data.template, e.subject, e.data.lineId])).toEqual([
      ['DATA_50_PERCENT', account, lines[1]],
      ['DATA_80_PERCENT', account, lines[1]],
      ['DATA_100_PERCENT', account, lines[2]],
    ]);

    const lineView = await svc.request(LINE_USAGE, { reps: lines.map((id) => ({ __typename: 'Line', id })) });
    expect(lineView.errors).toBeUndefined();
    const familyData = lineView.data._entities.map((l: { usage: { allowances: { allowanceId: string }[] } }) => l.usage.allowances.find((a) => a.allowanceId === 'family-data'));
    for (const a of familyData) expect(a).toMatchObject({ shared: true, used: '51200', allowance: '51200', remaining: '0', usedRatio: '1' });
    expect(familyData.map((a: { usedByLine: string }) => a.usedByLine)).toEqual(['20480', '20480', '10240']);

    const accountView = await svc.request(ACCOUNT_USAGE, { reps: [{ __typename: 'BillingAccount', id: account }] });
    expect(accountView.errors).toBeUndefined();
    const usage = accountView.data._entities[0].usage;
    expect(usage.lines).toHaveLength(3);
    expect(usage.allowances).toEqual([{ allowanceId: 'family-data', shared: true, used: '51200', usedByLine: '51200', allowance: '51200', remaining: '0', usedRatio: '1' }]);
    expect(dec(usage.spend).eq('52.2')).toBe(true);
  });
});
