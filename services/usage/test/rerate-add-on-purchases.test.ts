/**
 * Re-rating a month with add-on purchases (rerate-period.ts). Live usage counts each purchase of an
 * add-on on its own, over its own validity (wallets' bucket of that purchase: see
 * review7-add-on-bought-twice.test.ts); the re-rate's replay counted add-on allowances per line
 * allowance period, so a second pass in the period started used up (its use priced as overage
 * again: a false charge), and a pass bought before a renewal lost the use from before the renewal
 * (a false credit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { RECORD_USAGE, RERATE, UPSERT_LINE_CONTEXT as UPSERT, settleCharges, startUsage } from './support';

let svc: TestService;
let db: pg.Client;
let close: () => Promise<void>;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

/** A prepaid 30-day bundle line from `startsAt` with World roaming passes. */
async function lineWithPasses(lineId: string, msisdn: string, account: string, startsAt: string, passes: [string, string][]): Promise<void> {
  const res = await svc.request(UPSERT, {
    input: {
      lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: startsAt,
      subscription: {
        subscriptionId: `sub_${lineId}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', startsAt,
        addOns: passes.map(([from, to]) => ({ code: 'ROAM_WORLD_PASS_7D', startsAt: from, endsAt: to })),
      },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

async function roam(lineId: string, eventId: string, quantity: string, occurredAt: string): Promise<void> {
  const res = await svc.request(RECORD_USAGE, { input: { source: `rap-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity, occurredAt, roamingCountry: 'US' }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated, JSON.stringify(res.data.recordUsage.results)).toBe(1);
  clock.advance(60_000);
}

async function drawn(lineId: string): Promise<[string, string, string][]> {
  const { rows } = await db.query(`select event_id, from_allowance::text as a, spend::text as s from usage_record where line_id = $1 order by occurred_at`, [lineId]);
  return rows.map((r) => [r.event_id, dec(r.a).toString(), dec(r.s).toString()]);
}

beforeAll(async () => {
  ({ svc, db, close } = await startUsage(clock));
});
afterAll(() => close?.());

describe('rerate of a month with add-on passes, same catalog', () => {
  it('a pass bought twice in one allowance period: no adjustments', async () => {
    const lineId = `lin_rap${run}`;
    const account = `acc_rap${run}`;
    // 30-day bundle from 1 March; a World roaming pass for 1–8 March and another for 10–17 March.
    await lineWithPasses(lineId, '+4915100007781', account, '2026-03-01T00:00:00Z', [['2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z'], ['2026-03-10T00:00:00Z', '2026-03-17T00:00:00Z']]);
    await roam(lineId, 'trip1', '1024', '2026-03-02T10:00:00Z');
    await roam(lineId, 'trip2', '512', '2026-03-11T10:00:00Z');
    // Each pass drew its own 1 GB.
    expect(await drawn(lineId)).toEqual([['trip1', '1024', '0'], ['trip2', '512', '0']]);
    expect(await settleCharges(db, [lineId])).toBe(2);

    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });

  it('a pass running over a renewal before the month: its use from before the renewal still counts', async () => {
    const lineId = `lin_raq${run}`;
    const account = `acc_raq${run}`;
    // 30-day periods from 28 February: renewed on 30 March. A pass for 27 March – 3 April.
    clock.set('2026-03-29T12:00:00Z');
    await lineWithPasses(lineId, '+4915100007782', account, '2026-02-28T00:00:00Z', [['2026-03-27T00:00:00Z', '2026-04-03T00:00:00Z']]);
    await roam(lineId, 'before-renewal', '900', '2026-03-28T10:00:00Z');
    clock.set('2026-04-02T12:00:00Z');
    await roam(lineId, 'april', '300', '2026-04-01T10:00:00Z');
    // What was left of the pass (124 MB), the rest at 0.99 EUR/MB.
    expect(await drawn(lineId)).toEqual([['before-renewal', '900', '0'], ['april', '124', '174.24']]);
    expect(await settleCharges(db, [lineId])).toBe(2);

    clock.set('2026-04-20T12:00:00Z');
    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-04' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
