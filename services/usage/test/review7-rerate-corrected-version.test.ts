/**
 * Review (seventh round): a re-rate with a corrected plan version (`rerate(input: { planVersionId })`).
 *
 * - The re-rated records are stored with the corrected version's id as their plan_version_id. A
 *   shared pool is summed from the records rated with the subscription's plan version (live usage
 *   and the rating path's pool counters alike), so after the re-rate the pool's usage vanishes:
 *   the family sees 50 GB left after using 20 GB, and the next event is estimated as in-bundle.
 * - The corrected version is applied to every record of the account, also to lines that are on
 *   another plan altogether: their usage is priced by a plan they never subscribed to and they get
 *   adjustments for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { RECORD_USAGE, correctedPlan, setLine, settleCharges, startUsage } from './support';

// Family plan correction: out-of-pool data at 0.02 instead of 0.01 per MB.
const familyFix = correctedPlan('family-share-50gb.json', 'data-shared', (params) => (params.pricePerUnit = '0.0200'));
// Postpaid correction: world roaming data at 0.39 instead of 0.49 per MB.
const postpaidFix = correctedPlan('postpaid-20gb.json', 'roaming-world-data', (params) => (params.pricePerUnit = '0.3900'));

let svc: TestService;
let db: pg.Client;
let close: () => Promise<void>;
const run = Math.random().toString(36).slice(2, 8);
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  ({ svc, db, close } = await startUsage(new ManualClock(new Date('2026-03-20T12:00:00Z')), { plv_family_fix: familyFix, plv_postpaid_fix: postpaidFix }));
});
afterAll(() => close?.());

describe('rerate with a corrected plan version', () => {
  it("keeps the shared pool's usage: live usage and the next event still see what the family used", async () => {
    const account = `acc_r7p${run}`;
    const line = `lin_r7p${run}`;
    await setLine(svc, { lineId: line, msisdn: `+49154077${run.length}0011`, account, planVersionId: 'plv_family', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    const first = await svc.request(RECORD_USAGE, { input: { source: `r7p-${run}`, records: [{ eventId: 'p1', lineId: line, usageType: 'DATA', quantity: '20480', occurredAt: '2026-03-02T10:00:00Z' }] } });
    expect(first.data.recordUsage.rated).toBe(1);
    expect(await settleCharges(db, [line])).toBe(1);

    const poolUsed = async () => {
      const res = await svc.request(`{ _entities(representations: [{ __typename: "BillingAccount", id: "${account}" }]) { ... on BillingAccount { usage(period: "2026-03-10") { allowances { allowanceId used remaining } } } } }`);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      return res.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'family-data') as { used: string; remaining: string };
    };
    expect(dec((await poolUsed()).used).eq('20480')).toBe(true);

    // The correction changes the price of pooled data (the record stays in the pool: no money moves).
    const fixed = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_family_fix' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    expect(fixed.data.rerate.adjustments).toEqual([]);

    // Wallets' pool still has 20,480 MB used: live usage must show the same.
    const after = await poolUsed();
    expect(dec(after.used).toString()).toBe('20480');
    expect(dec(after.remaining).toString()).toBe('30720');

    // And the next event is estimated on that pool: 40,960 MB → 30,720 from the pool, 10,240 MB priced.
    const next = await svc.request(RECORD_USAGE, { input: { source: `r7p-${run}`, records: [{ eventId: 'p2', lineId: line, usageType: 'DATA', quantity: '40960', occurredAt: '2026-03-10T10:00:00Z' }] } });
    expect(next.data.recordUsage.rated).toBe(1);
    const { rows } = await db.query(`select from_allowance::text as from_allowance from usage_record where line_id = $1 and event_id = 'p2'`, [line]);
    expect(dec(rows[0].from_allowance).toString()).toBe('30720');
  });

  it("applies the correction to the lines on the corrected plan only, not to another plan's lines of the account", async () => {
    const account = `acc_r7m${run}`;
    const onPostpaid = `lin_r7mx${run}`;
    const onPayg = `lin_r7my${run}`;
    await setLine(svc, { lineId: onPostpaid, msisdn: `+49154078${run.length}0021`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    await setLine(svc, { lineId: onPayg, msisdn: `+49154078${run.length}0022`, account, planVersionId: 'plv_payg', paymentMode: 'POSTPAID' });
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `r7m-${run}`,
        records: [
          { eventId: 'x1', lineId: onPostpaid, usageType: 'DATA', quantity: '10', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'y1', lineId: onPayg, usageType: 'SMS', quantity: '1', occurredAt: '2026-03-02T11:00:00Z', calledNumber: '+4930123456' },
          { eventId: 'y2', lineId: onPayg, usageType: 'VOICE', quantity: '600', occurredAt: '2026-03-02T12:00:00Z', calledNumber: '+4930123456' },
        ],
      },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(3);
    expect(await settleCharges(db, [onPostpaid, onPayg])).toBeGreaterThan(0);
    const payg = await db.query(`select id, spend::text as spend from usage_record where line_id = $1 order by event_id`, [onPayg]);
    expect(payg.rows.every((r) => dec(r.spend).gt(0))).toBe(true);

    const fixed = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_postpaid_fix' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    const adjusted = fixed.data.rerate.adjustments.map((a: { usageRecordId: string }) => a.usageRecordId);
    // The postpaid line's roaming data is corrected (4.90 → 3.90) ...
    const [x1] = (await db.query(`select id from usage_record where line_id = $1`, [onPostpaid])).rows;
    expect(adjusted).toContain(x1.id);
    // ... the pay-as-you-go line's SMS and call keep the prices of their own plan: no adjustment, no change.
    const paygIds = payg.rows.map((r) => r.id);
    expect(adjusted.filter((id: string) => paygIds.includes(id))).toEqual([]);
    const { rows } = await db.query(`select plan_version_id, status from usage_record where line_id = $1 order by event_id`, [onPayg]);
    expect(rows.map((r) => [r.plan_version_id, r.status])).toEqual([['plv_payg', 'RATED'], ['plv_payg', 'RATED']]);
  });
});
