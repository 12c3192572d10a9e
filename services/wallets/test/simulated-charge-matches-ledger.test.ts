/**
 * The ledger charges an event partly inside its allowance what a plan simulation showed for it:
 * the real charge path (applyChargesIn: buckets locked and drawn, money written to the ledger) on
 * the ChargeRequest usage sends for the rated event. Before, simulate priced the uncovered units by
 * the tariff again (12.62 for POSTPAID_20GB's 2000 MB with 500 MB left), the ledger its share of
 * the rated price (11.34); both now use rating's ledgerMoneyFor.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { dec, type ChargeRequest } from '@ledgerline/contracts';
import { chargeAmountOf, compilePlan, simulate, type PlanDocument, type UsageEvent } from '@ledgerline/rating';
import { applyChargesIn } from '../src/application/apply-charges';
import { T0, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const plan = JSON.parse(readFileSync(new URL('../../../catalog/plans/postpaid-20gb.json', import.meta.url), 'utf8')) as PlanDocument;
const data = (id: string, quantity: string): UsageEvent => ({ id, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt: T0.toISOString() });

describe('a partly covered event: the ledger charges what the simulation showed', () => {
  it('POSTPAID_20GB data-allowance, 2000 MB with 500 MB left in the bundle: 11.34 charged, 500 MB from the bundle', async () => {
    const report = await simulate(compilePlan(plan, { version: '1' }), [data('e1', '19980'), data('e2', '2000')], { accountType: 'POSTPAID', customerType: 'INDIVIDUAL', lineStatus: 'ACTIVE', lineCount: 1 });
    const simulated = report.charges[1];
    const r = simulated.result;

    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
      i: { billingAccountId, allowanceId: 'data', unit: 'MB', quantity: '500', validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z', grantKey: uniq('g') },
    });
    // The ChargeRequest usage sends for the rated event (usage-pipeline chargeRequestOf).
    const request: ChargeRequest = {
      chargeId: uniq('chg'), billingAccountId, lineId: 'lin_1', paymentMode: 'POSTPAID', currency: r.currency, usageType: 'DATA', occurredAt: T0.toISOString(),
      units: r.chargedUnits, unit: r.unit!, allowanceIds: [r.allowanceId!], pricePerUnit: dec(r.price).div(r.chargedUnits).toDecimalPlaces(10).toString(),
      amount: chargeAmountOf(r.price).toFixed(), allowOverdraft: true,
    };
    const [result] = await dbOf(svc).tx((sql) => applyChargesIn(sql, [request], T0));

    expect({ outcome: result.outcome, fromBundle: result.unitsFromAllowances, amount: dec(result.amountCharged).toFixed() }).toEqual({ outcome: 'APPLIED', fromBundle: simulated.coveredUnits, amount: simulated.charge });
    expect(simulated.charge).toBe('11.34');
  });
});
