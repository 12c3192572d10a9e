/**
 * Bug: `simulateRating` (and `comparePlans` with records) answers INTERNAL_SERVER_ERROR for a
 * record whose quantity is a valid Decimal with more than 39 decimals. The Decimal scalar and the
 * rating library's event check (services/rating/src/domain/derive-facts.ts assertValidEvent:
 * any non-negative decimal string) let it through, and the fast pricing path
 * (services/rating/src/domain/pricing.ts fastUnitsAndPrice → scaled-decimal.ts rescale, which
 * indexes a 40-entry POWERS table) then throws a TypeError ("Cannot mix BigInt and other types")
 * instead of a RatingInputError, so guardRecords does not map it to BAD_USER_INPUT.
 *
 * How a user meets it: Plan Studio or a script simulates usage exported with full-precision
 * quantities (e.g. a computed MB value) and gets "Internal error" with no hint which record or
 * field is wrong.
 *
 * Fix: assertValidEvent should refuse a quantity the engine cannot price (e.g. more than a fixed
 * number of decimals, as usage ingestion already does with 6) as RatingInputError, or rescale /
 * roundDown should not depend on a fixed power table; the caller then gets BAD_USER_INPUT naming
 * input.records (reason USAGE_RECORD_INVALID).
 *
 * 2026-11-30: records are now checked by usage's own rule first (rating's checkUsageFields), which refuses more than
 * 6 decimals as usage does: QUANTITY_INVALID naming the record's field, input.records[0].quantity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { catalogService } from '../src/service';

const root = path.resolve(import.meta.dirname, '..', '..', '..', 'catalog');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));

describe('simulateRating with a very precise quantity', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startServiceForTest(catalogService, { clock: new ManualClock(new Date('2026-03-01T09:00:00Z')) });
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }', { i: { document: readJson('plans/prepaid-payg.json') } });
    expect(r.errors).toBeUndefined();
  });
  afterAll(() => svc?.close());

  it('answers BAD_USER_INPUT naming the record\'s quantity, not INTERNAL_SERVER_ERROR', async () => {
    const plan = await svc.request('{ plan(code: "PREPAID_PAYG") { currentVersion { id } } }');
    const quantity = `0.${'0'.repeat(40)}1`;
    const r = await svc.request('query($i: SimulateRatingInput!) { simulateRating(input: $i) { total } }', {
      i: { planVersionId: plan.data.plan.currentVersion.id, records: [{ id: 'r1', usageType: 'DATA', quantity, occurredAt: '2026-03-03T10:00:00Z' }] },
    });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUANTITY_INVALID', field: 'input.records[0].quantity' });
  });
});
