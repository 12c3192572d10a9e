/**
 * Rollovers no bundle.renewed announces count in live usage too (wallets' bucket.rolledover).
 *
 * Usage learned what rolled over into a period from bundle.renewed's `rollover` only. A shared pool
 * wallets renews on its own cadence (renewDueSharedPools: the member that opened it has left,
 * nobody's renewal is due) sends no bundle.renewed, and a rollover bucket a session's close makes
 * or grows after the renewal came after it: usage sized those periods from the plan alone, so
 * BillingAccount.usage / Line.usage showed less remaining than the ledger held and the 80 % / 100 %
 * thresholds fired early.
 *
 * Expected: wallets' bucket.rolledover (the period's whole rollover so far) adds to the allowance's
 * size; a redelivery or a repeat adds nothing; a later, larger figure replaces a smaller one, an
 * older smaller one arriving late changes nothing; counters rated before it are reloaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, type BucketRolledOverData } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const msisdnOf = (i: number) => `+4915178${String(i)}${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bundles'], deliverNew: true }), { clock: new ManualClock(new Date('2026-05-20T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

let sent = 0;
/** wallets' bucket.rolledover for May's period (from 1 May), delivered `times` times. */
async function rolledOver(d: Pick<BucketRolledOverData, 'billingAccountId' | 'lineId' | 'planVersionId' | 'allowanceId' | 'shared' | 'quantity'>, times = 1) {
  const data: BucketRolledOverData = { bucketId: `bkt_${d.lineId ?? d.billingAccountId}`, subscriptionId: null, periodStart: '2026-05-01T00:00:00.000Z', periodEnd: '2026-06-01T00:00:00.000Z', unit: 'MB', ...d };
  const e = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.bucketRolledOver.type, subject: data.bucketId, time: new Date('2026-05-01T00:01:00Z'), data, key: [data.bucketId, data.quantity] });
  for (let i = 0; i < times; i++) await svc.runtime.messaging.js.publish(EVENTS.bucketRolledOver.subject, JSON.stringify(e), { msgID: `${e.id}-${run}-${sent++}` });
}
const stored = async (owner: string, allowanceId: string) =>
  (await db.query<{ quantity: string }>(`select quantity::text from period_rollover where owner = $1 and allowance_id = $2`, [owner, allowanceId])).rows.map((r) => r.quantity);

async function data(lineId: string, eventId: string, mb: string, day: number) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `rl-${lineId}`, records: [{ eventId, lineId, usageType: 'DATA', quantity: mb, occurredAt: `2026-05-${String(day).padStart(2, '0')}T10:00:00Z` }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}
const thresholds = async (subject: string) =>
  (await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload)).filter((e) => e.subject === subject).map((e) => [e.data.allowanceId, e.data.threshold]);
const FIELDS = 'allowanceId used allowance remaining';
const lineAllowance = async (lineId: string, allowanceId: string) =>
  (await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-05-20") { allowances { ${FIELDS} } } } } }`)).data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === allowanceId);
const accountAllowance = async (account: string, allowanceId: string) =>
  (await svc.request(`{ _entities(representations: [{ __typename: "BillingAccount", id: "${account}" }]) { ... on BillingAccount { usage(period: "2026-05-20") { allowances { ${FIELDS} } } } } }`)).data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === allowanceId);

describe('rollovers announced by bucket.rolledover in live usage', () => {
  it('a pool wallets renewed on its own cadence with 12,800 MB carried holds 51,200 + 12,800: BillingAccount.usage, Line.usage, thresholds; repeats add nothing, a larger figure amends', async () => {
    const account = `acc_rl1${run}`;
    const lines = [1, 2].map((i) => `lin_rl1${i}${run}`);
    for (const [i, lineId] of lines.entries()) await setLine(svc, { lineId, msisdn: msisdnOf(1 + i), account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    // No bundle.renewed: no member's renewal opened May's pool. Delivered twice.
    await rolledOver({ billingAccountId: account, lineId: null, planVersionId: 'plv_family', allowanceId: 'family-data', shared: true, quantity: '12800.000000' }, 2);
    const owner = `pool:${account}|plv_family`;
    await waitFor(async () => (await stored(owner, 'family-data')).length, 10_000, 'the rollover to reach usage');
    expect(await stored(owner, 'family-data')).toEqual(['12800.000000']);

    await data(lines[0]!, 'a', '25600', 2); // 40 % of 64,000
    await data(lines[1]!, 'b', '25600', 3); // 51,200: 80 % (100 % of the plan alone)
    expect(await thresholds(account)).toEqual([['family-data', '0.5'], ['family-data', '0.8']]);
    const pool = { allowanceId: 'family-data', used: '51200', allowance: '64000', remaining: '12800' };
    expect(await accountAllowance(account, 'family-data')).toEqual(pool);
    for (const lineId of lines) expect(await lineAllowance(lineId, 'family-data')).toEqual(pool);

    // A later close grew the pool's rollover bucket to 15,000; an old, smaller figure redelivered after it changes nothing.
    await rolledOver({ billingAccountId: account, lineId: null, planVersionId: 'plv_family', allowanceId: 'family-data', shared: true, quantity: '15000.000000' });
    await rolledOver({ billingAccountId: account, lineId: null, planVersionId: 'plv_family', allowanceId: 'family-data', shared: true, quantity: '12800.000000' });
    await waitFor(async () => (await accountAllowance(account, 'family-data'))?.allowance === '66200', 10_000, 'the amended rollover to show');
    await new Promise((r) => setTimeout(r, 500));
    expect(await stored(owner, 'family-data')).toEqual(['15000.000000']);
    expect(await accountAllowance(account, 'family-data')).toEqual({ ...pool, allowance: '66200', remaining: '15000' });
    await data(lines[1]!, 'c', '12800', 4); // 64,000 of 66,200: not yet 100 %
    expect(await thresholds(account)).toEqual([['family-data', '0.5'], ['family-data', '0.8']]);
  });

  it("a line's rollover bucket made by a session's close after the period's first records: the counters are reloaded with it", async () => {
    const lineId = `lin_rl2${run}`;
    const account = `acc_rl2${run}`;
    await setLine(svc, { lineId, msisdn: msisdnOf(5), account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-04-01T00:00:00Z', at: '2026-04-01T00:00:00Z' });
    await data(lineId, 'a', '16384', 2); // 80 % of the plan's 20,480: usage knows of no rollover yet
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8']]);
    await rolledOver({ billingAccountId: account, lineId, planVersionId: 'plv_postpaid', allowanceId: 'data', shared: false, quantity: '10240.000000' });
    await waitFor(async () => (await lineAllowance(lineId, 'data'))?.allowance === '30720', 10_000, 'the rollover to show');
    await data(lineId, 'b', '8192', 3); // 24,576 of 30,720 (past the plan's 100 %): no new threshold
    expect(await thresholds(lineId)).toEqual([['data', '0.5'], ['data', '0.8']]);
    expect(await lineAllowance(lineId, 'data')).toEqual({ allowanceId: 'data', used: '24576', allowance: '30720', remaining: '6144' });
  });
});
