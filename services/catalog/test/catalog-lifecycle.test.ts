import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { catalogService } from '../src/service';
import { readJson, CATALOG_DIR as root } from './support';

const planFiles = fs.readdirSync(path.join(root, 'plans')).filter((f) => f.endsWith('.json'));
const offerFiles = fs.readdirSync(path.join(root, 'offers')).filter((f) => f.endsWith('.json'));
const samples = readJson('samples/usage.json') as { events: Record<string, string>[] };

const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id status version } validation { valid problems { pointer code message } } } }';
const UPDATE = 'mutation($i: UpdatePlanDraftInput!) { updatePlanDraft(input: $i) { draft { id } validation { valid problems { pointer code } } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { plan { status } version { id version status effectiveFrom } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';

describe('plan catalog lifecycle (catalog subgraph on PostgreSQL)', () => {
  let svc: TestService;
  const clock = new ManualClock(new Date('2026-03-01T09:00:00Z'));

  beforeAll(async () => {
    svc = await startServiceForTest(catalogService, { clock });
    for (const f of offerFiles) {
      const r = await svc.request('mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code } } }', { i: { document: readJson(`offers/${f}`) } });
      expect(r.errors).toBeUndefined();
    }
  });
  afterAll(() => svc?.close());

  it('publishes every shipped plan as version 1, and importing again changes nothing', async () => {
    for (const f of planFiles) {
      const first = await svc.request(IMPORT, { i: { document: readJson(`plans/${f}`) } });
      expect(first.errors, f).toBeUndefined();
      expect(first.data.importPlan).toMatchObject({ created: true, version: { version: 1 } });
      const again = await svc.request(IMPORT, { i: { document: readJson(`plans/${f}`) } });
      expect(again.data.importPlan).toEqual({ created: false, version: first.data.importPlan.version });
    }
    const list = await svc.request('{ plans(first: 50, filter: { status: PUBLISHED }) { totalCount edges { node { code currentVersion { version } } } } }');
    expect(list.data.plans.totalCount).toBe(planFiles.length);
  });

  it('keeps an invalid draft with its problems but never publishes it', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_BROKEN' };
    doc.rules = structuredClone(doc.rules);
    doc.rules[0].conditions = { all: [{ fact: 'usageTypo', operator: 'equal', value: 'VOICE' }] };
    const created = await svc.request(DRAFT, { i: { document: doc } });
    expect(created.errors).toBeUndefined();
    expect(created.data.createPlanDraft.draft).toMatchObject({ status: 'DRAFT', version: null });
    expect(created.data.createPlanDraft.validation.valid).toBe(false);
    expect(created.data.createPlanDraft.validation.problems).toContainEqual(expect.objectContaining({ pointer: '/rules/0/conditions/all/0/fact', code: 'UNKNOWN_FACT' }));

    const checked = await svc.request('mutation($i: ValidatePlanInput!) { validatePlan(input: $i) { valid problems { pointer } } }', { i: { draftId: created.data.createPlanDraft.draft.id } });
    expect(checked.data.validatePlan.problems).toEqual(created.data.createPlanDraft.validation.problems.map((p: { pointer: string }) => ({ pointer: p.pointer })));

    const refused = await svc.request(PUBLISH, { i: { draftId: created.data.createPlanDraft.draft.id } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect((refused.errors?.[0]?.extensions?.problems as { pointer: string }[])[0]?.pointer).toBe('/rules/0/conditions/all/0/fact');
    const plan = await svc.request('{ plan(code: "PAYG_BROKEN") { status versions { status version } } }');
    expect(plan.data.plan).toEqual({ status: 'DRAFT', versions: [{ status: 'DRAFT', version: null }] });
  });

  it('publishes a new version without changing the old one (grandfathering), idempotently, with an audit trail', async () => {
    const v1 = readJson('plans/postpaid-20gb.json');
    const before = await svc.request('{ plan(code: "POSTPAID_20GB") { currentVersion { id document } } }');
    const v1Id = before.data.plan.currentVersion.id;

    const v2doc = structuredClone(v1);
    v2doc.name = 'Smart 20 GB (2026)';
    v2doc.recurringFee.amount = '24.99';
    const draft = await svc.request(DRAFT, { i: { document: v2doc } });
    expect(draft.data.createPlanDraft.validation).toEqual({ valid: true, problems: [] });
    const second = await svc.request(DRAFT, { i: { document: v2doc } });
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_DRAFT_ALREADY_OPEN' });

    const draftId = draft.data.createPlanDraft.draft.id;
    clock.advance(60_000);
    const effectiveFrom = '2026-04-01T00:00:00.000Z';
    const published = await svc.request(PUBLISH, { i: { draftId, effectiveFrom } });
    expect(published.errors).toBeUndefined();
    expect(published.data.publishPlan.version).toMatchObject({ id: draftId, version: 2, status: 'PUBLISHED', effectiveFrom });
    const replay = await svc.request(PUBLISH, { i: { draftId, effectiveFrom } });
    expect(replay.data.publishPlan.version).toEqual(published.data.publishPlan.version);

    // v1 is unchanged and still in force until v2's effective date; v2 after it.
    const plan = await svc.request(
      '{ plan(code: "POSTPAID_20GB") { currentVersion { id } march: versionAt(at: "2026-03-31T23:00:00Z") { id version } april: versionAt(at: "2026-04-02T00:00:00Z") { id version document } audit { action actor planVersionId diff } } }',
    );
    expect(plan.data.plan.currentVersion.id).toBe(v1Id);
    expect(plan.data.plan.march).toEqual({ id: v1Id, version: 1 });
    expect(plan.data.plan.april.version).toBe(2);
    expect(plan.data.plan.april.document.recurringFee.amount).toBe('24.99');
    const old = await svc.request('query($id: ID!) { planVersion(id: $id) { status document } }', { id: v1Id });
    expect(old.data.planVersion.document).toEqual(before.data.plan.currentVersion.document);

    // A published version is immutable.
    const edit = await svc.request(UPDATE, { i: { draftId, document: v2doc } });
    expect(edit.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_IMMUTABLE' });

    // Every change is audited with who, when and a JSON diff.
    const published2 = plan.data.plan.audit.find((a: { action: string; planVersionId: string }) => a.action === 'PUBLISHED' && a.planVersionId === draftId);
    expect(published2.actor).toBe('ledgerline-system');
    expect(published2.diff).toEqual(
      expect.arrayContaining([
        { op: 'replace', path: '/name', value: 'Smart 20 GB (2026)' },
        { op: 'replace', path: '/recurringFee/amount', value: '24.99' },
      ]),
    );
    const diff = await svc.request('query($a: ID!, $b: ID!) { diffPlanVersions(fromId: $a, toId: $b) }', { a: v1Id, b: draftId });
    expect(diff.data.diffPlanVersions).toHaveLength(2);
  });

  it('validates documents with a JSON pointer for each problem', async () => {
    const doc = readJson('plans/prepaid-payg.json');
    const cases: [string, (d: any) => void, string][] = [
      ['missing field', (d) => delete d.currency, ''],
      ['negative price', (d) => (d.rules.find((r: any) => r.event.type === 'rate').event.params.pricePerUnit = '-0.10'), '/event/params/pricePerUnit'],
      ['unknown operator', (d) => (d.rules[0].conditions = { all: [{ fact: 'usageType', operator: 'roughlyEqual', value: 'VOICE' }] }), '/rules/0/conditions/all/0/operator'],
    ];
    for (const [name, mutateDoc, pointerPart] of cases) {
      const broken = structuredClone(doc);
      mutateDoc(broken);
      const r = await svc.request('query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code message } } }', { d: broken });
      expect(r.data.validatePlan.valid, name).toBe(false);
      expect(
        r.data.validatePlan.problems.some((p: { pointer: string }) => p.pointer.endsWith(pointerPart)),
        `${name}: ${JSON.stringify(r.data.validatePlan.problems)}`,
      ).toBe(true);
    }
  });

  it('simulates rating on usage records and compares plans, cheapest first', async () => {
    const records = samples.events.slice(0, 40).map(({ msisdn: _m, ...e }) => e);
    const plan = await svc.request('{ plan(code: "POSTPAID_20GB") { currentVersion { id } } }');
    const sim = await svc.request(
      'query($i: SimulateRatingInput!) { simulateRating(input: $i) { planCode events rated denied usageCharge recurringFee total records { recordId decision rulesFired allowanceId chargedUnits coveredUnits charge } } }',
      { i: { planVersionId: plan.data.plan.currentVersion.id, records } },
    );
    expect(sim.errors).toBeUndefined();
    const s = sim.data.simulateRating;
    expect(s.events).toBe(records.length);
    expect(s.rated + s.denied).toBe(records.length);
    for (const record of s.records) if (record.decision === 'RATED') expect(record.rulesFired.length).toBeGreaterThan(0);

    const cmp = await svc.request('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode currency total } }', {
      i: { planCodes: ['POSTPAID_20GB', 'PREPAID_PAYG', 'PREPAID_BUNDLE_30D'], records },
    });
    expect(cmp.errors).toBeUndefined();
    const ambiguous = await svc.request('query($i: ComparePlansInput!) { comparePlans(input: $i) { total } }', { i: { planCodes: ['PREPAID_PAYG'], records, billingAccountId: 'acc_1' } });
    expect(ambiguous.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'COMPARE_INPUT_AMBIGUOUS' });
    const totals = cmp.data.comparePlans.map((c: { total: string }) => Number(c.total));
    expect(totals).toEqual([...totals].sort((a, b) => a - b));
  });

  it('retires a plan, refuses new drafts for it, and writes events through the outbox', async () => {
    const r = await svc.request('mutation { retirePlan(input: { code: "PREPAID_PAYG" }) { plan { status retiredAt } } }');
    expect(r.data.retirePlan.plan.status).toBe('RETIRED');
    const again = await svc.request(DRAFT, { i: { document: readJson('plans/prepaid-payg.json') } });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_ALREADY_RETIRED' });
    await svc.runtime.relay.drain();
    const rows = await svc.runtime.orm.em.fork().getConnection().execute(`select subject, count(*) as n, count(published_at) as published from outbox group by subject order by subject`);
    const offers = String(fs.readdirSync(path.join(root, 'offers')).length); // each imported offer is announced
    expect(rows).toEqual([
      { subject: 'billing.catalog.offer.published', n: offers, published: offers },
      { subject: 'billing.catalog.plan.published', n: String(planFiles.length + 1), published: String(planFiles.length + 1) },
      { subject: 'billing.catalog.plan.retired', n: '1', published: '1' },
    ]);
  });

  it('lets only product managers change the catalog', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'NOT_ALLOWED' };
    const anonymous = await svc.request(DRAFT, { i: { document: doc } }, { role: 'ANONYMOUS', subject: 'x', scopes: [] });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const customer = await svc.request(DRAFT, { i: { document: doc } }, { role: 'CUSTOMER', subject: 'c', customerId: 'cus_1', scopes: [] });
    expect(customer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
