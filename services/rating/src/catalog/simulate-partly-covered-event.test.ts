/**
 * An event partly inside its allowance, simulated as the ledger charges it.
 *
 * Bug: `simulate` priced the units the bucket did not cover with `priceUnits`, i.e. as a fresh
 * event (an EVENT-basis table from tier 0 again, an EVENT `amount` surcharge in full), while
 * wallets' decideCharge takes the rated price pro rata of those units. POSTPAID_20GB's
 * data-allowance, 2000 MB with 500 MB left in the bundle: simulated 12.62, charged 11.34. Both now
 * go through rating's `uncoveredMoney` / `ledgerMoneyFor` (wallets' side: charging.test.ts and
 * test/simulated-charge-matches-ledger.test.ts).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PlanDocument, PriceTable, TopLevelCondition } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan } from '../engine/compile-plan';
import { loadCatalogDir } from './load-catalog';
import { simulate } from './simulate';

const CATALOG_DIR = fileURLToPath(new URL('../../../../catalog', import.meta.url));
let n = 0;
const data = (quantity: string, occurredAt = '2026-03-02T10:00:00Z'): UsageEvent => ({ id: `e${++n}`, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt });

function plan(rules: PlanDocument['rules'], quantity: string): PlanDocument {
  return {
    code: 'PARTLY',
    name: 'Partly covered',
    description: 'test plan',
    paymentMode: 'PREPAID',
    currency: 'EUR',
    timezone: 'UTC',
    taxCategory: 'TELECOM_STANDARD',
    allowances: [{ id: 'data', unit: 'MB', usageTypes: ['DATA'], quantity, validity: 'PERIOD' }],
    zones: { homeCountry: 'DE' },
    rules,
  };
}
const ctx: SubscriberContext = { accountType: 'PREPAID', lineStatus: 'ACTIVE', lineCount: 1 };
const isData: TopLevelCondition = { all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }] };

describe('an event partly covered by its allowance is simulated as the ledger charges it', () => {
  it('POSTPAID_20GB data-allowance: 2000 MB with 500 MB left costs its share of the rated 15.12 (11.34), not the tiers again (12.62)', async () => {
    const catalog = await loadCatalogDir(CATALOG_DIR);
    const doc = catalog.plans.find((p) => p.document.code === 'POSTPAID_20GB')!.document;
    const compiled = compilePlan(doc, { version: '1', knownOffers: catalog.offers.map((o) => o.document) });
    const report = await simulate(compiled, [data('19980'), data('2000')], { accountType: 'POSTPAID', customerType: 'INDIVIDUAL', lineStatus: 'ACTIVE', lineCount: 1 });
    const last = report.charges[1];
    expect([last.result.price, last.coveredUnits, last.charge]).toEqual(['15.120000', '500', '11.34']);
    expect(report.usageCharge).toBe('11.34');
  });

  it('a flat EVENT surcharge is shared like the rest of the price, not charged in full on the uncovered part', async () => {
    const compiled = compilePlan(
      plan(
        [
          { name: 'data', priority: 1, conditions: isData, event: { type: 'rate', params: { unit: 'MB', allowanceId: 'data', pricePerUnit: '0.0100' } } },
          { name: 'session-fee', priority: 2, conditions: isData, event: { type: 'surcharge', params: { amount: '1.00', scope: 'EVENT' } } },
        ],
        '1000',
      ),
      { version: '1' },
    );
    const report = await simulate(compiled, [data('950'), data('100')], ctx);
    // 950 MB in the bundle: nothing. 100 MB rated 2.00 (1.00 + the 1.00 fee), 50 MB in the bundle: half of it.
    expect(report.charges.map((c) => [c.result.price, c.coveredUnits, c.charge])).toEqual([
      ['10.500000', '950', '0'],
      ['2.000000', '50', '1'],
    ]);
  });

  it('a PERIOD-basis table counts every charged unit of the period, the bundle\'s too, as usage counts them for rating', async () => {
    const table: PriceTable = { model: 'GRADUATED', basis: 'PERIOD', tiers: [{ upTo: '1000', unitPrice: '0.01' }, { upTo: null, unitPrice: '0.001' }] };
    const compiled = compilePlan(plan([{ name: 'data', priority: 1, conditions: isData, event: { type: 'rate', params: { unit: 'MB', allowanceId: 'data', priceTable: table } } }], '500'), { version: '1' });
    const report = await simulate(compiled, [data('600'), data('1000')], ctx);
    // 600 MB rated 6.00, 500 in the bundle: 1.00. Then 1000 MB after 600 charged units: price(1600) - price(600) = 4.60, all money.
    expect(report.charges.map((c) => [c.result.price, c.coveredUnits, c.charge])).toEqual([
      ['6.000000', '500', '1'],
      ['4.600000', '0', '4.600000'],
    ]);
  });
});
