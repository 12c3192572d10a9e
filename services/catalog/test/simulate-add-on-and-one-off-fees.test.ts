/**
 * Bug: catalog simulation (`simulateRating`, `comparePlans`) counted the allowances of the add-ons
 * named in `subscriber.activeAddOns` but not their price, nor the plan's one-off fees: Smart 20 GB
 * with the World Roaming Pass held through February cost 29.99, as if the pass (9.99 a week) and
 * the activation fee (19.99) were free, so a plan that needs a paid add-on looked cheaper than it is.
 *
 * Fix: the simulation buys each active add-on for every validity window of the span (the pass four
 * times over February) and charges the plan's ACTIVATION fees; both are lines of the breakdown
 * (`addOnFee`, `oneOffFee`, and `fees` per add-on and fee) and are in `total`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

/** Roaming data in the USA on the first and the last day of February 2026: the span is the 28 days of February. */
const records = [
  { id: 'us-1', usageType: 'DATA', quantity: '500', occurredAt: '2026-02-01T10:00:00Z', roamingCountry: 'US' },
  { id: 'us-2', usageType: 'DATA', quantity: '500', occurredAt: '2026-02-28T10:00:00Z', roamingCountry: 'US' },
];
const subscriber = { activeAddOns: ['ROAM_WORLD_PASS_7D'] };

describe('catalog simulation: add-on prices and one-off fees', () => {
  let svc: TestService;
  let versionId: string;

  beforeAll(async () => {
    svc = await startCatalog('2026-03-15T09:00:00Z');
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document: readJson('plans/postpaid-20gb.json') } });
    expect(r.errors).toBeUndefined();
    versionId = r.data.importPlan.version.id;
  });
  afterAll(() => svc?.close());

  it('counts the pass bought four times and the activation fee in the total', async () => {
    const r = await svc.request('query($i: SimulateRatingInput!) { simulateRating(input: $i) { usageCharge recurringFee total } }', { i: { planVersionId: versionId, records, subscriber } });
    expect(r.errors).toBeUndefined();
    // 29.99 a month + 4 x 9.99 + 19.99 activation; the pass covers the roaming data.
    expect(r.data.simulateRating).toEqual({ usageCharge: '0', recurringFee: '29.99', total: '89.94' });
  });

  it('shows them as lines of the breakdown, in simulateRating and comparePlans', async () => {
    const sim = await svc.request(
      'query($i: SimulateRatingInput!) { simulateRating(input: $i) { addOnFee oneOffFee fees { kind code name count amount } } }',
      { i: { planVersionId: versionId, records, subscriber } },
    );
    expect(sim.errors).toBeUndefined();
    expect(sim.data.simulateRating).toEqual({
      addOnFee: '39.96',
      oneOffFee: '19.99',
      // The plan's SIM replacement fee is not charged: no SIM is replaced in a simulated span.
      fees: [
        { kind: 'ADD_ON', code: 'ROAM_WORLD_PASS_7D', name: 'World Roaming Pass 7 days', count: 4, amount: '39.96' },
        { kind: 'ONE_OFF', code: 'ACTIVATION', name: 'Activation fee', count: 1, amount: '19.99' },
      ],
    });
    const cmp = await svc.request('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode recurringFee addOnFee oneOffFee total } }', { i: { planCodes: ['POSTPAID_20GB'], records, subscriber } });
    expect(cmp.errors).toBeUndefined();
    expect(cmp.data.comparePlans).toEqual([{ planCode: 'POSTPAID_20GB', recurringFee: '29.99', addOnFee: '39.96', oneOffFee: '19.99', total: '89.94' }]);
  });
});
