/**
 * Catalog simulation over fee periods and with active offers (rate-with-plans.ts):
 * - comparePlans on a billing account counts each plan's fees over the compared month: a 7.00
 *   weekly plan costs 4 weeks over February, not one week (nor the one day its usage covers);
 * - simulateRating counts the allowances of an offer named in subscriber.activeAddOns: the World
 *   pass's 1024 MB cover roaming data in the USA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalogWithUsage, usagePage, usageRecord } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };

describe('catalog simulation: fee periods and offers', () => {
  let svc: TestService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    // A stand-in for usage: one record on 10 February 2026, whatever the account.
    ({ svc, close } = await startCatalogWithUsage(() => usagePage([usageRecord('feb-1', '10', '2026-02-10T10:00:00Z')]), '2026-03-15T09:00:00Z'));
    const monthly = readJson('plans/postpaid-20gb.json');
    const weekly = { ...structuredClone(monthly), code: 'POSTPAID_20GB_WEEKLY', name: 'Smart 20 GB weekly', recurringFee: { amount: '7.00', period: 'WEEK', proration: 'DAILY' } };
    for (const document of [monthly, weekly]) {
      const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document } });
      expect(r.errors).toBeUndefined();
    }
  });
  afterAll(async () => close?.());

  it("charges each plan's fee for every fee period of the compared month", async () => {
    const r = await svc.request(
      'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode recurringFee } }',
      { i: { planCodes: ['POSTPAID_20GB', 'POSTPAID_20GB_WEEKLY'], billingAccountId: 'acc_1', period: '2026-02' } },
      ADMIN,
    );
    expect(r.errors).toBeUndefined();
    const fees = Object.fromEntries(r.data.comparePlans.map((c: { planCode: string; recurringFee: string }) => [c.planCode, c.recurringFee]));
    expect(fees).toEqual({ POSTPAID_20GB: '29.99', POSTPAID_20GB_WEEKLY: '28.00' });
  });

  it('counts the allowance of an offer the subscriber has active', async () => {
    const plan = await svc.request('{ plan(code: "POSTPAID_20GB") { currentVersion { id } } }');
    const records = [{ id: 'us-1', usageType: 'DATA', quantity: '500', occurredAt: '2026-03-10T10:00:00Z', roamingCountry: 'US' }];
    const query = 'query($i: SimulateRatingInput!) { simulateRating(input: $i) { usageCharge records { allowanceId coveredUnits charge } } }';
    const i = { planVersionId: plan.data.plan.currentVersion.id, records, subscriber: { activeAddOns: ['ROAM_WORLD_PASS_7D'] } };
    const r = await svc.request(query, { i });
    expect(r.errors).toBeUndefined();
    expect(r.data.simulateRating.records).toEqual([expect.objectContaining({ allowanceId: 'roam-pass-data', coveredUnits: '500' })]);
    expect(Number(r.data.simulateRating.usageCharge)).toBe(0);
  });
});
