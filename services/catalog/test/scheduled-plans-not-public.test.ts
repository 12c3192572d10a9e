/**
 * Review: a SCHEDULED plan (published, its only versions dated later) and a scheduled version of a
 * plan on sale (a price rise dated next month) were readable by anyone through `plans(filter: {
 * status: SCHEDULED })`, `plan(code)`, `Plan.versions`, `versionAt(at:)` with a later date,
 * `planVersion(id)` (and so `diffPlanVersions` / `simulateRating`) and the `Plan` entity reference,
 * while `comparePlans` answered the same plan as an unknown code ("not public yet"). One policy now
 * (src/graphql/authorization.ts): customers, partners and anonymous callers see what has been in
 * force (on sale now, superseded, retired); what is still to come (scheduled versions and plans,
 * versions withdrawn before their date) is for staff (AGENT, ADMIN, SYSTEM); drafts stay the
 * editors' (ADMIN, SYSTEM). The one exception is a `PlanVersion` entity reference: another subgraph
 * names it because a subscription the caller may read pins it (Line.subscription.planVersion).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'mvno-1', partnerId: 'mvno-1', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const SYSTEM: Caller = { role: 'SYSTEM', subject: 'system', scopes: ['*'] };
const PUBLIC: [Caller, string][] = [
  [ANONYMOUS, 'UNAUTHENTICATED'],
  [CUSTOMER, 'FORBIDDEN'],
  [PARTNER, 'FORBIDDEN'],
];
const STAFF = [AGENT, ADMIN, SYSTEM];

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { plan { id } version { id version } } }';
const NOW = '2026-03-01T09:00:00Z';
const APRIL = '2026-04-01T00:00:00Z';
const withFee = (doc: { recurringFee: object }, amount: string) => ({ ...doc, recurringFee: { ...doc.recurringFee, amount } });
const codes = (r: { data?: { plans?: { edges: { node: { code: string } }[] } } }) => r.data?.plans?.edges.map((e) => e.node.code);

describe('scheduled plans and versions are for staff; the public sees what has been in force', () => {
  let svc: TestService;
  const clock = new ManualClock(new Date(NOW));
  let v1: string;
  let riseId: string;
  let launchPlanId: string;
  let launchVersionId: string;

  beforeAll(async () => {
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock });
    await importOffers(svc);
    const doc = readJson('plans/postpaid-20gb.json');
    v1 = (await svc.request(IMPORT, { i: { document: doc } })).data.importPlan.version.id;
    // A price rise published today for 1 April: not announced to customers yet.
    const rise = await svc.request(IMPORT, { i: { document: { ...withFee(doc, '34.99'), name: 'Smart 20 GB (April price)' }, effectiveFrom: APRIL } });
    expect(rise.errors).toBeUndefined();
    riseId = rise.data.importPlan.version.id;
    // A plan launching on 1 April (SCHEDULED), and one scheduled and then retired before it ever launched.
    const launch = await svc.request(IMPORT, { i: { document: { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_FROM_APRIL' }, effectiveFrom: APRIL } });
    expect(launch.errors).toBeUndefined();
    launchPlanId = launch.data.importPlan.plan.id;
    launchVersionId = launch.data.importPlan.version.id;
    expect((await svc.request(IMPORT, { i: { document: { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_NEVER_LAUNCHED' }, effectiveFrom: APRIL } })).errors).toBeUndefined();
    expect((await svc.request('mutation { retirePlan(input: { code: "PAYG_NEVER_LAUNCHED" }) { plan { status } } }', {}, ADMIN)).errors).toBeUndefined();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a customer, a partner or an anonymous caller cannot list or read a scheduled plan', async () => {
    for (const [caller, refusal] of PUBLIC) {
      const tag = caller.role;
      const onSale = await svc.request('{ plans(first: 50) { totalCount edges { node { code } } } }', {}, caller);
      expect(codes(onSale), tag).toEqual(['POSTPAID_20GB']);
      const listed = await svc.request('{ plans(first: 50, filter: { status: SCHEDULED }) { totalCount edges { node { code } } } }', {}, caller);
      expect(listed.data?.plans ?? null, tag).toBeNull();
      expect(listed.errors?.[0]?.extensions, tag).toMatchObject({ code: refusal, field: 'filter.status' });
      // Retired before it ever launched: never public, not even as retired.
      const retired = await svc.request('{ plans(first: 50, filter: { status: RETIRED }) { totalCount edges { node { code } } } }', {}, caller);
      expect({ codes: codes(retired), total: retired.data?.plans.totalCount }, tag).toEqual({ codes: [], total: 0 });
      const byCode = await svc.request('{ launch: plan(code: "PAYG_FROM_APRIL") { code status } never: plan(code: "PAYG_NEVER_LAUNCHED") { code } }', {}, caller);
      expect(byCode.errors, tag).toBeUndefined();
      expect(byCode.data, tag).toEqual({ launch: null, never: null });
      const byReference = await svc.request('query($r: [_Any!]!) { _entities(representations: $r) { ... on Plan { code } } }', { r: [{ __typename: 'Plan', id: launchPlanId }] }, caller);
      expect(byReference.data?._entities, tag).toEqual([null]);
      // comparePlans already answered it as an unknown code: unchanged.
      const compared = await svc.request('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode } }', { i: { planCodes: ['PAYG_FROM_APRIL'], records: [] } }, caller);
      expect(compared.errors?.[0]?.extensions, tag).toMatchObject({ code: 'NOT_FOUND', field: 'input.planCodes.0' });
    }
  });

  it("a customer sees a plan on sale without its scheduled price rise (versions, versionAt later, the version by id, diff, simulation)", async () => {
    for (const [caller, refusal] of PUBLIC) {
      const tag = caller.role;
      const plan = await svc.request('{ plan(code: "POSTPAID_20GB") { status currentVersion { id } versions { id version } } }', {}, caller);
      expect(plan.errors, tag).toBeUndefined();
      expect(plan.data.plan, tag).toEqual({ status: 'PUBLISHED', currentVersion: { id: v1 }, versions: [{ id: v1, version: 1 }] });
      const past = await svc.request('{ plan(code: "POSTPAID_20GB") { versionAt(at: "2026-03-01T09:00:00Z") { id } } }', {}, caller);
      expect(past.data.plan.versionAt, tag).toEqual({ id: v1 });
      const later = await svc.request('{ plan(code: "POSTPAID_20GB") { code versionAt(at: "2026-04-02T00:00:00Z") { id } } }', {}, caller);
      expect(later.data?.plan, tag).toEqual({ code: 'POSTPAID_20GB', versionAt: null });
      expect(later.errors?.[0]?.extensions, tag).toMatchObject({ code: refusal, field: 'at' });
      for (const [query, variables, field] of [
        ['query($id: ID!) { planVersion(id: $id) { id document } }', { id: riseId }, 'id'],
        ['query($id: ID!) { planVersion(id: $id) { id document } }', { id: launchVersionId }, 'id'],
        ['query($a: ID!, $b: ID!) { diffPlanVersions(fromId: $a, toId: $b) }', { a: v1, b: riseId }, 'toId'],
        ['query($i: SimulateRatingInput!) { simulateRating(input: $i) { total } }', { i: { planVersionId: riseId, records: [] } }, 'input.planVersionId'],
      ] as const) {
        const r = await svc.request(query, variables, caller);
        expect(r.errors?.[0]?.extensions, `${query} as ${tag}`).toMatchObject({ code: refusal, field });
        expect(JSON.stringify(r.data ?? null), `${query} as ${tag}`).not.toContain('34.99');
      }
    }
  });

  it('staff (agents, product managers, systems) list and read everything scheduled', async () => {
    for (const caller of STAFF) {
      const tag = caller.role;
      const listed = await svc.request('{ plans(first: 50, filter: { status: SCHEDULED }) { edges { node { code status } } } }', {}, caller);
      expect(listed.errors, tag).toBeUndefined();
      expect(listed.data.plans.edges.map((e: { node: object }) => e.node), tag).toEqual([{ code: 'PAYG_FROM_APRIL', status: 'SCHEDULED' }]);
      const r = await svc.request(
        `query($rise: ID!, $r: [_Any!]!) {
          launch: plan(code: "PAYG_FROM_APRIL") { status currentVersion { id } }
          smart: plan(code: "POSTPAID_20GB") { versions { version status } april: versionAt(at: "2026-04-02T00:00:00Z") { id } }
          planVersion(id: $rise) { version document }
          _entities(representations: $r) { ... on Plan { code } }
        }`,
        { rise: riseId, r: [{ __typename: 'Plan', id: launchPlanId }] },
        caller,
      );
      expect(r.errors, tag).toBeUndefined();
      expect(r.data.launch, tag).toEqual({ status: 'SCHEDULED', currentVersion: null });
      expect(r.data.smart.versions.filter((v: { status: string }) => v.status !== 'DRAFT'), tag).toEqual([{ version: 1, status: 'PUBLISHED' }, { version: 2, status: 'PUBLISHED' }]);
      expect(r.data.smart.april, tag).toEqual({ id: riseId });
      expect(r.data.planVersion.document.recurringFee.amount, tag).toBe('34.99');
      expect(r.data._entities, tag).toEqual([{ code: 'PAYG_FROM_APRIL' }]);
      // comparePlans tells staff why (it is not in force yet), as it tells editors about drafts.
      const compared = await svc.request('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode } }', { i: { planCodes: ['PAYG_FROM_APRIL'], records: [] } }, caller);
      expect(compared.errors?.[0]?.extensions, tag).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_NOT_PUBLISHED', field: 'input.planCodes.0' });
      expect(compared.errors?.[0]?.message, tag).toContain('2026-04-01T00:00:00.000Z');
    }
  });

  it("a version referenced by another subgraph (a subscription the caller may read pins it) resolves for the customer", async () => {
    const r = await svc.request('query($r: [_Any!]!) { _entities(representations: $r) { ... on PlanVersion { id version } } }', { r: [{ __typename: 'PlanVersion', id: riseId }] }, CUSTOMER);
    expect(r.errors).toBeUndefined();
    expect(r.data._entities).toEqual([{ id: riseId, version: 2 }]);
  });

  it('from its date it is public: listed, read by code, the new version in the history', async () => {
    clock.set(APRIL);
    try {
      const r = await svc.request(
        `query($rise: ID!) {
          plans(first: 50) { edges { node { code } } }
          smart: plan(code: "POSTPAID_20GB") { currentVersion { id } versions { version } }
          launch: plan(code: "PAYG_FROM_APRIL") { status }
          planVersion(id: $rise) { version }
        }`,
        { rise: riseId },
        CUSTOMER,
      );
      expect(r.errors).toBeUndefined();
      expect(r.data).toEqual({
        plans: { edges: [{ node: { code: 'PAYG_FROM_APRIL' } }, { node: { code: 'POSTPAID_20GB' } }] },
        smart: { currentVersion: { id: riseId }, versions: [{ version: 1 }, { version: 2 }] },
        launch: { status: 'PUBLISHED' },
        planVersion: { version: 2 },
      });
    } finally {
      clock.set(NOW);
    }
  });
});
