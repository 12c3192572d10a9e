/**
 * Four suspicions about publishing (review 20), each shown here:
 * 1. `importPlan` wrote the repository's document into an open Plan Studio draft and published it:
 *    the product manager's unpublished work was gone without a word. Now the draft is kept.
 * 2. A publish dated before a version already scheduled for later made that version never take
 *    effect (`versionInForce` takes the highest number whose date has come). Now refused: CONFLICT
 *    PLAN_VERSION_SCHEDULED naming the scheduled version and `input.effectiveFrom`.
 * 3. A plan whose only version is scheduled for later read PUBLISHED and was listed on sale with no
 *    version to sell. Now its status reads SCHEDULED until the date, and the sales listing leaves it out.
 * 4. `effectiveFrom` up to 60 s in the past was accepted, rewriting what the catalog says was in
 *    force during that minute. Now anything before `now` is BAD_USER_INPUT naming `input.effectiveFrom`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version effectiveFrom } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version effectiveFrom } } }';
const withFee = (doc: { recurringFee: object }, amount: string) => ({ ...doc, recurringFee: { ...doc.recurringFee, amount } });

describe('publishing: open drafts, scheduled versions, effective dates', () => {
  let svc: TestService;
  const clock = new ManualClock(new Date('2026-03-01T09:00:00Z'));
  beforeAll(async () => {
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock });
    await importOffers(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const draftOf = async (document: object): Promise<string> => {
    const r = await svc.request(DRAFT, { i: { document } });
    expect(r.errors).toBeUndefined();
    return r.data.createPlanDraft.draft.id;
  };

  it('1. importing a plan keeps an open Plan Studio draft of it as it was (still open, its document untouched)', async () => {
    const a = readJson('plans/postpaid-20gb.json');
    expect((await svc.request(IMPORT, { i: { document: a } })).data.importPlan).toMatchObject({ created: true, version: { version: 1 } });
    const studio = withFee(a, '29.99');
    const draftId = await draftOf(studio);

    const imported = await svc.request(IMPORT, { i: { document: withFee(a, '22.00') } });
    expect(imported.errors).toBeUndefined();
    expect(imported.data.importPlan).toMatchObject({ created: true, version: { version: 2 } });
    const plan = await svc.request('{ plan(code: "POSTPAID_20GB") { currentVersion { version document } draft { id status document } } }');
    expect({
      current: plan.data.plan.currentVersion.version,
      currentFee: plan.data.plan.currentVersion.document.recurringFee.amount,
      draft: plan.data.plan.draft && { id: plan.data.plan.draft.id, status: plan.data.plan.draft.status, fee: plan.data.plan.draft.document.recurringFee.amount },
    }).toEqual({ current: 2, currentFee: '22.00', draft: { id: draftId, status: 'DRAFT', fee: '29.99' } });

    // The product manager can still publish it (after the imported version), and the next import puts the repository's document back.
    expect((await svc.request(PUBLISH, { i: { draftId } })).data.publishPlan.version.version).toBe(3);
    expect((await svc.request(IMPORT, { i: { document: withFee(a, '22.00') } })).data.importPlan).toMatchObject({ created: true, version: { version: 4 } });
  });

  it('1b. an open draft holding the very document imported is the version published (nothing is lost, no draft left behind)', async () => {
    const a = readJson('plans/prepaid-payg.json');
    await svc.request(IMPORT, { i: { document: a } });
    const next = { ...a, name: `${a.name} (2026)` };
    const draftId = await draftOf(next);
    const imported = await svc.request(IMPORT, { i: { document: next } });
    expect(imported.data.importPlan).toMatchObject({ created: true, version: { id: draftId, version: 2 } });
    expect((await svc.request('{ plan(code: "PREPAID_PAYG") { draft { id } } }')).data.plan.draft).toBeNull();
  });

  it('2. a publish dated at or before a version scheduled for later is refused, naming it; after its date is fine', async () => {
    const a = readJson('plans/prepaid-bundle-30d.json');
    await svc.request(IMPORT, { i: { document: a } });
    const scheduled = await svc.request(PUBLISH, { i: { draftId: await draftOf(withFee(a, '14.99')), effectiveFrom: '2026-04-01T00:00:00Z' } });
    expect(scheduled.data.publishPlan.version.version).toBe(2);

    const earlierDraft = await draftOf(withFee(a, '12.99'));
    for (const effectiveFrom of ['2026-03-15T00:00:00Z', '2026-04-01T00:00:00Z', undefined]) {
      const refused = await svc.request(PUBLISH, { i: { draftId: earlierDraft, effectiveFrom } });
      expect(refused.errors?.[0]?.extensions, String(effectiveFrom)).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_SCHEDULED', field: 'input.effectiveFrom', scheduledVersion: 2 });
      expect(refused.errors?.[0]?.message).toContain('2026-04-01T00:00:00.000Z');
    }
    // The same through catalog as code (no silent replacement by the repository either).
    const refusedImport = await svc.request(IMPORT, { i: { document: withFee(a, '11.99') } });
    expect(refusedImport.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_SCHEDULED', field: 'input.effectiveFrom' });

    const timeline = async () => {
      const p = await svc.request('{ plan(code: "PREPAID_BUNDLE_30D") { now: currentVersion { version } april: versionAt(at: "2026-04-02T00:00:00Z") { version } may: versionAt(at: "2026-05-02T00:00:00Z") { version } } }');
      return { now: p.data.plan.now.version, april: p.data.plan.april.version, may: p.data.plan.may.version };
    };
    expect(await timeline()).toEqual({ now: 1, april: 2, may: 2 });

    const later = await svc.request(PUBLISH, { i: { draftId: earlierDraft, effectiveFrom: '2026-05-01T00:00:00Z' } });
    expect(later.errors).toBeUndefined();
    expect(await timeline()).toEqual({ now: 1, april: 2, may: 3 });
  });

  it('3. a plan whose first version is scheduled reads SCHEDULED (no current version, not on sale) until its date', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_FROM_APRIL' };
    const imported = await svc.request(IMPORT, { i: { document: doc, effectiveFrom: '2026-04-01T00:00:00Z' } });
    expect(imported.errors).toBeUndefined();
    const read = async () => {
      const p = await svc.request('{ plan(code: "PAYG_FROM_APRIL") { status currentVersion { version } } }');
      const onSale = await svc.request('{ plans(first: 50) { totalCount edges { node { code } } } }', undefined, { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] });
      const scheduled = await svc.request('{ plans(first: 50, filter: { status: SCHEDULED }) { edges { node { code status } } } }');
      const published = await svc.request('{ plans(first: 50, filter: { status: PUBLISHED }) { edges { node { code } } } }');
      expect(onSale.errors).toBeUndefined();
      const codes = (r: { data?: { plans: { edges: { node: { code: string } }[] } } }) => r.data!.plans.edges.map((e) => e.node.code);
      return {
        status: p.data.plan.status,
        current: p.data.plan.currentVersion?.version ?? null,
        onSale: codes(onSale).includes('PAYG_FROM_APRIL'),
        onSaleCount: onSale.data.plans.totalCount === codes(onSale).length,
        inScheduled: codes(scheduled).includes('PAYG_FROM_APRIL'),
        inPublished: codes(published).includes('PAYG_FROM_APRIL'),
      };
    };
    expect(await read()).toEqual({ status: 'SCHEDULED', current: null, onSale: false, onSaleCount: true, inScheduled: true, inPublished: false });
    clock.set('2026-04-01T00:00:00Z');
    try {
      expect(await read()).toEqual({ status: 'PUBLISHED', current: 1, onSale: true, onSaleCount: true, inScheduled: false, inPublished: true });
    } finally {
      clock.set('2026-03-01T09:00:00Z');
    }
  });

  it('4. effectiveFrom before now is refused, even by a second; now itself and later are accepted', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_PAST_DATE' };
    const past = new Date(clock.now().getTime() - 30_000).toISOString();
    const viaImport = await svc.request(IMPORT, { i: { document: doc, effectiveFrom: past } });
    expect(viaImport.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_EFFECTIVE_IN_PAST', field: 'input.effectiveFrom' });
    const draftId = await draftOf(doc);
    const oneSecond = await svc.request(PUBLISH, { i: { draftId, effectiveFrom: new Date(clock.now().getTime() - 1_000).toISOString() } });
    expect(oneSecond.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_EFFECTIVE_IN_PAST', field: 'input.effectiveFrom' });
    const atNow = await svc.request(PUBLISH, { i: { draftId, effectiveFrom: clock.now().toISOString() } });
    expect(atNow.errors).toBeUndefined();
    expect(atNow.data.publishPlan.version.effectiveFrom).toBe(clock.now().toISOString());
  });
});
