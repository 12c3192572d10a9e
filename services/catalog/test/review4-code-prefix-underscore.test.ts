/**
 * Bug: `plans(filter: { codePrefix })` strips every "_" (and "%") from the prefix before building
 * the LIKE pattern (services/catalog/src/graphql/resolvers.ts, Query.plans). Plan codes are
 * UPPER_SNAKE_CASE, so "_" is part of nearly every code: a product manager (or Plan Studio's
 * search box) asking for `codePrefix: "PREPAID_B"` gets the pattern "PREPAIDB%" and no plans at
 * all, although PREPAID_BUNDLE_30D exists.
 *
 * Fix: escape LIKE wildcards instead of deleting them (e.g. `replace(/[\\%_]/g, '\\$&')` with an
 * ESCAPE clause, or compare with a `starts-with` expression), so the prefix matches literally:
 * "PREPAID_B" finds PREPAID_BUNDLE_30D and not PREPAID_PAYG, and totalCount agrees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';

describe('plans(filter: { codePrefix }) with an underscore in the prefix', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    for (const f of ['prepaid-payg.json', 'prepaid-bundle-30d.json', 'postpaid-20gb.json']) {
      const r = await svc.request(IMPORT, { i: { document: readJson(`plans/${f}`) } });
      expect(r.errors, f).toBeUndefined();
    }
  });
  afterAll(() => svc?.close());

  it('finds PREPAID_BUNDLE_30D for the prefix "PREPAID_B" and nothing else', async () => {
    const r = await svc.request('{ plans(first: 10, filter: { codePrefix: "PREPAID_B" }) { totalCount edges { node { code } } } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.plans.edges.map((e: { node: { code: string } }) => e.node.code)).toEqual(['PREPAID_BUNDLE_30D']);
    expect(r.data.plans.totalCount).toBe(1);
  });
});
