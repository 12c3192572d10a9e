/**
 * Audit: `plans`, the listing customers (and the shop, and agents selling) browse the plans on sale
 * with, listed RETIRED plans too: for anyone but an editor, without a status filter, it filtered
 * out only DRAFT. A retired plan is no longer sold (subscribers refuses it, `PLAN_RETIRED`), so
 * it is left out of that listing now; asked for explicitly (`filter: { status: RETIRED }`) it is
 * still listed, and editors (ADMIN, SYSTEM), who manage the catalog, still see every plan. Reads
 * of a retired plan by code, by reference and of its versions by id go on unchanged: the lines
 * on it, wallets and invoicing read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { graphqlRequest, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }';
const LIST = 'query($f: PlanFilter, $after: String, $first: Int) { plans(first: $first, after: $after, filter: $f) { totalCount edges { node { code status } } pageInfo { hasNextPage endCursor } } }';

describe('plans lists what is on sale: no RETIRED plan unless asked for', () => {
  let svc: TestService;
  let retiredVersionId: string;
  let retiredPlanId: string;

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    for (const f of ['prepaid-payg.json', 'prepaid-bundle-30d.json', 'postpaid-20gb.json']) {
      const r = await svc.request(IMPORT, { i: { document: readJson(`plans/${f}`) } });
      expect(r.errors, f).toBeUndefined();
      if (f === 'prepaid-payg.json') retiredVersionId = r.data.importPlan.version.id;
    }
    const retired = await svc.request('mutation { retirePlan(input: { code: "PREPAID_PAYG" }) { plan { id status } } }', {}, ADMIN);
    expect(retired.data.retirePlan.plan.status).toBe('RETIRED');
    retiredPlanId = retired.data.retirePlan.plan.id;
  });
  afterAll(() => svc?.close());

  const list = async (caller: Caller, variables: Record<string, unknown> = {}) => {
    const r = await svc.request(LIST, { first: 10, ...variables }, caller);
    expect(r.errors, caller.role).toBeUndefined();
    return { codes: r.data.plans.edges.map((e: { node: { code: string } }) => e.node.code), totalCount: r.data.plans.totalCount, pageInfo: r.data.plans.pageInfo };
  };

  it('leaves the retired plan out of the unfiltered listing for customers, anonymous callers and agents', async () => {
    for (const caller of [ANONYMOUS, CUSTOMER, AGENT]) {
      expect(await list(caller), caller.role).toMatchObject({ codes: ['POSTPAID_20GB', 'PREPAID_BUNDLE_30D'], totalCount: 2 });
      expect(await list(caller, { f: { codePrefix: 'PREPAID_' } }), caller.role).toMatchObject({ codes: ['PREPAID_BUNDLE_30D'], totalCount: 1 });
      expect(await list(caller, { f: { paymentMode: 'PREPAID' } }), caller.role).toMatchObject({ codes: ['PREPAID_BUNDLE_30D'], totalCount: 1 });
    }
    // Page by page, too: the second page of one holds the last plan on sale, and nothing follows.
    const first = await list(CUSTOMER, { first: 1 });
    expect(first).toMatchObject({ codes: ['POSTPAID_20GB'], totalCount: 2, pageInfo: { hasNextPage: true } });
    expect(await list(CUSTOMER, { first: 1, after: first.pageInfo.endCursor })).toMatchObject({ codes: ['PREPAID_BUNDLE_30D'], totalCount: 2, pageInfo: { hasNextPage: false } });
  });

  it('lists retired plans when asked for them, and editors still see every plan', async () => {
    expect(await list(CUSTOMER, { f: { status: 'RETIRED' } })).toMatchObject({ codes: ['PREPAID_PAYG'], totalCount: 1 });
    expect(await list(ADMIN)).toMatchObject({ codes: ['POSTPAID_20GB', 'PREPAID_BUNDLE_30D', 'PREPAID_PAYG'], totalCount: 3 });
  });

  it('still reads the retired plan by code, by reference and its version by id', async () => {
    const byCode = await svc.request('{ plan(code: "PREPAID_PAYG") { id status retiredAt currentVersion { id } versionAt(at: "2026-03-01T09:00:00Z") { id } } }', {}, CUSTOMER);
    expect(byCode.errors).toBeUndefined();
    expect(byCode.data.plan).toEqual({ id: retiredPlanId, status: 'RETIRED', retiredAt: '2026-03-01T09:00:00.000Z', currentVersion: { id: retiredVersionId }, versionAt: { id: retiredVersionId } });
    const byReference = await svc.request('query($r: [_Any!]!) { _entities(representations: $r) { ... on Plan { code status } ... on PlanVersion { version plan { code } } } }', {
      r: [
        { __typename: 'Plan', id: retiredPlanId },
        { __typename: 'PlanVersion', id: retiredVersionId },
      ],
    });
    expect(byReference.data._entities).toEqual([{ code: 'PREPAID_PAYG', status: 'RETIRED' }, { version: 1, plan: { code: 'PREPAID_PAYG' } }]);
    // As wallets and invoicing read a pinned version: no caller at all.
    expect(await graphqlRequest(svc.url, 'query($id: ID!) { planVersion(id: $id) { version document } }', { id: retiredVersionId })).toMatchObject({ data: { planVersion: { version: 1, document: { code: 'PREPAID_PAYG' } } } });
  });
});
