/**
 * Catalog simulation over fee periods and with active offers (rate-with-plans.ts):
 * - comparePlans on a billing account counts each plan's fees over the compared month: a 7.00
 *   weekly plan costs 4 weeks over February, not one week (nor the one day its usage covers);
 * - simulateRating counts the allowances of an offer named in subscriber.activeAddOns: the World
 *   pass's 1024 MB cover roaming data in the USA.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };

describe('catalog simulation: fee periods and offers', () => {
  let svc: TestService;
  let usage: http.Server;

  beforeAll(async () => {
    // A stand-in for usage: one record on 10 February 2026, whatever the account.
    usage = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const node = { eventId: 'feb-1', usageType: 'DATA', direction: 'OUTGOING', quantity: '10', occurredAt: '2026-02-10T10:00:00Z', calledNumber: null, roamingCountry: null, visitedMcc: null, status: 'RATED' };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { usageRecords: { edges: [{ node }], pageInfo: { hasNextPage: false, endCursor: null } } } }));
      });
    });
    await new Promise<void>((resolve) => usage.listen(0, '127.0.0.1', resolve));
    process.env.USAGE_URL = `http://127.0.0.1:${(usage.address() as AddressInfo).port}/graphql`;
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock: new ManualClock(new Date('2026-03-15T09:00:00Z')) });
    await importOffers(svc);
    const monthly = readJson('plans/postpaid-20gb.json');
    const weekly = { ...structuredClone(monthly), code: 'POSTPAID_20GB_WEEKLY', name: 'Smart 20 GB weekly', recurringFee: { amount: '7.00', period: 'WEEK', proration: 'DAILY' } };
    for (const document of [monthly, weekly]) {
      const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document } });
      expect(r.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await svc?.close();
    usage?.close();
    delete process.env.USAGE_URL;
  });

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
