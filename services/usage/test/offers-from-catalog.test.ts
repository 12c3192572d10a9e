/**
 * Usage compiles plans against the catalog's add-on offers, not against the catalog folder's files.
 * Before, it read catalog/offers/*.json from its own disk once per process: an offer a product
 * manager imported through the catalog (importOffer) did not exist for usage, so a plan published
 * with an upsell rule naming it was PLAN_INVALID in usage (every event of its lines REJECTED) while
 * the catalog had accepted it, and a changed offer (a bigger allowance) was never seen until a
 * release shipped the file and the process restarted. Now usage asks the catalog for its offers
 * (retired ones too: plans published before still name them), compiles again when the catalog
 * announces a change (billing.catalog.offer.published / .retired), and before calling a version
 * PLAN_INVALID asks the catalog once more (the version may name an offer newer than its copy).
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { catalogService } from '../../catalog/src/service';
import { catalogPlanSource } from '../src/application/plan-cache';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { RECORD_USAGE, planDocument, setLine, waitFor } from './support';

const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
const run = randomBytes(3).toString('hex').toUpperCase();
let catalog: TestService;
let usage: TestService;

const offersDir = new URL('../../../catalog/offers/', import.meta.url);
const boostOffer = JSON.parse(fs.readFileSync(new URL('data-boost-5gb.json', offersDir), 'utf8'));

async function ok<T = any>(svc: TestService, query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await svc.request(query, variables);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data as T;
}

/** An offer only the catalog knows (imported through its API, no file). */
async function importApiOffer(code: string, quantity = '10240'): Promise<void> {
  const document = { ...boostOffer, code, name: `API boost ${code}`, allowances: [{ ...boostOffer.allowances[0], id: `${code.toLowerCase().replaceAll("_", "-")}-data`, quantity }] };
  await ok(catalog, 'mutation($d: JSON!) { importOffer(input: { document: $d }) { offer { code } } }', { d: document });
}

/** The prepaid bundle plan under a new code, its 80 % upsell offering `offerCode`: the published version's id. */
async function publishPlanOffering(planCode: string, offerCode: string): Promise<string> {
  const document = planDocument('prepaid-bundle-30d.json') as { code: string; rules: { name: string; event: { params: Record<string, unknown> } }[] };
  document.code = planCode;
  document.rules.find((r) => r.name === 'offer-data-boost-at-80')!.event.params.offerCode = offerCode;
  const data = await ok<{ importPlan: { version: { id: string } } }>(catalog, 'mutation($d: JSON!) { importPlan(input: { document: $d }) { version { id } } }', { d: document });
  return data.importPlan.version.id;
}

async function recordData(lineId: string, eventId: string) {
  const data = await ok(usage, RECORD_USAGE, {
    input: { source: `offers-${run}`, records: [{ eventId, lineId, usageType: 'DATA', direction: 'OUTGOING', quantity: '10', occurredAt: '2026-11-16T09:00:00Z' }] },
  });
  return data.recordUsage.results[0] as { status: string; rejectionCode: string | null; rejectionReason: string | null };
}

beforeAll(async () => {
  catalog = await startServiceForTest(catalogService, { clock });
  for (const file of fs.readdirSync(offersDir).filter((f) => f.endsWith('.json'))) {
    await ok(catalog, 'mutation($d: JSON!) { importOffer(input: { document: $d }) { offer { code } } }', { d: JSON.parse(fs.readFileSync(new URL(file, offersDir), 'utf8')) });
  }
  // The production plan source (what CATALOG_URL builds), on this test's catalog.
  usage = await startServiceForTest(createUsageService({ planSource: catalogPlanSource(catalog.url, DEV_INTERNAL_SECRET), consumers: ['offers'] }), { clock });
});
afterAll(async () => {
  await usage?.close();
  await catalog?.close();
});

describe('usage rates with the catalog offers', () => {
  it('a plan whose upsell names an offer imported through the catalog rates (it was PLAN_INVALID: usage read only the files)', async () => {
    const offer = `API_BOOST_${run}`;
    await importApiOffer(offer);
    const version = await publishPlanOffering(`PREPAID_API_${run}`, offer);
    await setLine(usage, { lineId: `lin_api_${run}`, msisdn: `+4915${Date.now() % 1e9}`, account: `acc_api_${run}`, planVersionId: version, paymentMode: 'PREPAID' });
    expect(await recordData(`lin_api_${run}`, 'e1')).toMatchObject({ status: 'RATED', rejectionCode: null });
  });

  it('an offer imported after usage loaded the catalog: its plan rates too, and a changed offer is seen', async () => {
    // Usage has loaded the offers (the test above); a new offer and a plan naming it come afterwards.
    const offer = `LATER_BOOST_${run}`;
    await importApiOffer(offer, '2048');
    const version = await publishPlanOffering(`PREPAID_LATER_${run}`, offer);
    await setLine(usage, { lineId: `lin_later_${run}`, msisdn: `+4916${Date.now() % 1e9}`, account: `acc_later_${run}`, planVersionId: version, paymentMode: 'PREPAID' });
    expect(await recordData(`lin_later_${run}`, 'e2')).toMatchObject({ status: 'RATED', rejectionCode: null });

    // The catalog announces a change to the offer (a bigger allowance): usage's copy follows.
    const sizeOf = () => usageRuntimeOf(usage.runtime).plans.knownOffers().find((o) => o.code === offer)?.allowances?.[0]?.quantity;
    expect(sizeOf()).toBe('2048');
    await importApiOffer(offer, '4096');
    await waitFor(async () => sizeOf() === '4096', 15_000, 'usage to see the changed offer');
  });
});
