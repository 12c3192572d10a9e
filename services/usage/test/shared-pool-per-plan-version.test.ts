/**
 * A family whose lines are on two versions of the shared plan: one shared pool per plan version.
 *
 * Subscribers pins a new line's subscription to the plan's current version (add-line.ts), so a
 * member added after the catalog published a new version of the family plan is on v2 while the
 * others stay on v1. Wallets keeps one shared pool per account, plan version and allowance
 * (`shared:<account>:<planVersionId>:<allowance>:<start>`, grant-from-subscription.ts), and usage
 * counts the pools the same way: the pool counters are keyed by account, plan version and pool
 * period (`poolKeyOf`), the pool sums only add the records rated with that plan version, the
 * pool's thresholds and notifications are once per account, plan version and period, and a
 * re-rate replays each version's pool on its own. So the v2 member's usage is in its own pool's
 * bundle (not estimated as overage), each pool crosses its own thresholds, Line.usage shows the
 * line's own pool, BillingAccount.usage lists both pools (naming their plan versions), and
 * re-rating the month with the same catalog charges nothing more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleFromAllowances, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_pv${run}`;
const v1Line = `lin_pv1${run}`;
const v2Line = `lin_pv2${run}`;

beforeAll(async () => {
  // v2 of the family plan: the same terms, published later.
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_family_v2: planDocument('family-share-50gb.json') }), consumers: [] }), {
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: v1Line, msisdn: '+4915100009921', account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', subscriptionId: `sub_pv1${run}` });
  await setLine(svc, { lineId: v2Line, msisdn: '+4915100009922', account, planVersionId: 'plv_family_v2', paymentMode: 'POSTPAID', subscriptionId: `sub_pv2${run}` });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('shared pools per plan version, as wallets keeps them', () => {
  it("the v2 member's usage draws on the v2 pool only: in-bundle, no false 100 %, live usage shows its own pool", async () => {
    // 30,000 MB on each line in March: 59 % of each pool's 51,200 MB.
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `pv-${run}`,
        records: [
          { eventId: 'v1-data', lineId: v1Line, usageType: 'DATA', quantity: '30000', occurredAt: '2026-03-05T10:00:00Z' },
          { eventId: 'v2-data', lineId: v2Line, usageType: 'DATA', quantity: '30000', occurredAt: '2026-03-06T10:00:00Z' },
        ],
      },
    });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(2);

    const { rows: [v2] } = await db.query(`select from_allowance::text, spend::text from usage_record where line_id = $1`, [v2Line]);
    const thresholds = (await db.query('select payload from outbox where subject = $1', [EVENTS.usageThresholdReached.subject])).rows
      .map((r) => JSON.parse(r.payload).data)
      .filter((d) => d.billingAccountId === account)
      .map((d) => `${d.planVersionId} ${d.threshold}`)
      .sort();
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${v2Line}" }]) { ... on Line { usage(period: "2026-03-06T12:00:00Z") { allowances { allowanceId used usedByLine } } } } }`);
    const pool = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'family-data');
    expect({ v2, thresholds, pool }).toEqual({
      v2: { from_allowance: '30000.000000', spend: '0.000000' },
      // Each pool crossed 50 % once, and its event names the pool's plan version.
      thresholds: ['plv_family 0.5', 'plv_family_v2 0.5'],
      pool: { allowanceId: 'family-data', used: '30000', usedByLine: '30000' },
    });
  });

  it("the account's usage lists one pool per plan version, each with its own use", async () => {
    const res = await svc.request(`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on BillingAccount { usage(period: "2026-03-06T12:00:00Z") { allowances { allowanceId planVersionId shared used remaining } } } } }`, {
      reps: [{ __typename: 'BillingAccount', id: account }],
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const pools = res.data._entities[0].usage.allowances
      .filter((a: { allowanceId: string }) => a.allowanceId === 'family-data')
      .sort((x: { planVersionId: string }, y: { planVersionId: string }) => x.planVersionId.localeCompare(y.planVersionId));
    expect(pools).toEqual([
      { allowanceId: 'family-data', planVersionId: 'plv_family', shared: true, used: '30000', remaining: '21200' },
      { allowanceId: 'family-data', planVersionId: 'plv_family_v2', shared: true, used: '30000', remaining: '21200' },
    ]);
  });

  it('re-rating the month with the same catalog charges nothing more for the v2 member', async () => {
    // What wallets settled: each line's 30,000 MB from its own plan version's pool, nothing in money.
    await settleFromAllowances(db, 'u.billing_account_id = $1', [account]);
    const res = await svc.request(`mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { previousPrice newPrice } } }`, { i: { billingAccountId: account, period: '2026-03' } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
