/**
 * Review 19: catalog as code (`importPlan`, what `ledgerline catalog publish` calls on every merge).
 *
 * `importPlan` answers "unchanged" when ANY published version of the plan has the document's content
 * hash (`em.findOne(PlanVersion, { planId, contentHash, status: 'PUBLISHED' })` in
 * src/application/import-plan.ts), not when the version IN FORCE has it. So a change reverted in
 * git (A → B → A), or a version a product manager published from Plan Studio without a release
 * (B over the repository's A), is never undone by publishing the repository: the CLI prints
 * "unchanged (version 1)" while version 2 (B) stays the plan every new line is sold on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';
const CURRENT = '{ plan(code: "PREPAID_BUNDLE_30D") { currentVersion { version document } } }';

describe('review 19: importing a plan document an older version already had', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a change reverted in the repository (A → B → A) is published again: the version in force is A', async () => {
    const a = readJson('plans/prepaid-bundle-30d.json');
    const b = { ...a, recurringFee: { ...a.recurringFee, amount: '19.00' } };
    const first = await svc.request(IMPORT, { i: { document: a } });
    expect(first.errors).toBeUndefined();
    const second = await svc.request(IMPORT, { i: { document: b } });
    expect(second.data.importPlan).toMatchObject({ created: true, version: { version: 2 } });

    const reverted = await svc.request(IMPORT, { i: { document: a } });
    expect(reverted.errors).toBeUndefined();
    const current = await svc.request(CURRENT);
    expect({
      created: reverted.data.importPlan.created,
      fee: current.data.plan.currentVersion.document.recurringFee.amount,
    }).toEqual({ created: true, fee: a.recurringFee.amount });
  });

  it('a version scheduled from Plan Studio: importing it again keeps its schedule; the repository\'s document over it is refused (review 20), and dated after it is published once', async () => {
    const a = readJson('plans/postpaid-20gb.json');
    const b = { ...a, recurringFee: { ...a.recurringFee, amount: '24.99' } };
    expect((await svc.request(IMPORT, { i: { document: a } })).data.importPlan).toMatchObject({ created: true, version: { version: 1 } });
    const draft = await svc.request('mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }', { i: { document: b } });
    const scheduled = await svc.request('mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { version } } }', {
      i: { draftId: draft.data.createPlanDraft.draft.id, effectiveFrom: '2026-04-01T00:00:00Z' },
    });
    expect(scheduled.data.publishPlan.version.version).toBe(2);
    // B is the latest version (scheduled): importing B changes nothing (it is not re-published effective now).
    expect((await svc.request(IMPORT, { i: { document: b } })).data.importPlan).toMatchObject({ created: false, version: { version: 2 } });
    // The repository still says A. Published now, it would outrank B before B ever took effect: refused,
    // naming B (review 20: a scheduled version is never replaced silently; it used to become v3 and B never applied).
    const refused = await svc.request(IMPORT, { i: { document: a } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_SCHEDULED', field: 'input.effectiveFrom', scheduledVersion: 2 });
    // Dated after B: published as v3 from that date; the same file again is no new version.
    expect((await svc.request(IMPORT, { i: { document: a, effectiveFrom: '2026-05-01T00:00:00Z' } })).data.importPlan).toMatchObject({ created: true, version: { version: 3 } });
    expect((await svc.request(IMPORT, { i: { document: a } })).data.importPlan).toMatchObject({ created: false, version: { version: 3 } });
    const plan = await svc.request(
      '{ plan(code: "POSTPAID_20GB") { currentVersion { version } april: versionAt(at: "2026-04-02T00:00:00Z") { version document } may: versionAt(at: "2026-05-02T00:00:00Z") { version document } versions { version } } }',
    );
    expect({
      current: plan.data.plan.currentVersion.version,
      april: plan.data.plan.april.version,
      aprilFee: plan.data.plan.april.document.recurringFee.amount,
      may: plan.data.plan.may.version,
      mayFee: plan.data.plan.may.document.recurringFee.amount,
      versions: plan.data.plan.versions.map((v: { version: number }) => v.version),
    }).toEqual({ current: 1, april: 2, aprilFee: '24.99', may: 3, mayFee: a.recurringFee.amount, versions: [1, 2, 3] });
  });
});
