/**
 * Review (session 33): publishPlan is idempotent by draft (a retry answers the version the draft
 * became), but it answered so whatever the retry asked for. A product manager who published a
 * price rise for 1 April and then, in Plan Studio, published the same draft "again" for 1 May (the
 * date they meant) was answered success: the rise stayed dated April, and the answer looked like
 * the May publish had gone through. Same key, other input: CONFLICT (CONVENTIONS rule 5), naming
 * the date the version has. The same date again, or none, is still the retry it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version status effectiveFrom } } }';
const NOW = '2026-03-01T09:00:00Z';
const APRIL = '2026-04-01T00:00:00.000Z';
const MAY = '2026-05-01T00:00:00.000Z';

describe('publishing a published draft again', () => {
  let svc: TestService;
  beforeAll(async () => {
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock: new ManualClock(new Date(NOW)) });
    await importOffers(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('for another date is refused naming the date it took; the same date or none answers the version', async () => {
    const doc = readJson('plans/prepaid-bundle-30d.json');
    expect((await svc.request(IMPORT, { i: { document: doc } })).errors).toBeUndefined();
    const draft = await svc.request(DRAFT, { i: { document: { ...doc, recurringFee: { ...doc.recurringFee, amount: '14.99' } } } });
    const draftId = draft.data.createPlanDraft.draft.id;
    const first = await svc.request(PUBLISH, { i: { draftId, effectiveFrom: APRIL } });
    expect(first.data.publishPlan.version).toMatchObject({ version: 2, status: 'PUBLISHED', effectiveFrom: APRIL });

    const other = await svc.request(PUBLISH, { i: { draftId, effectiveFrom: MAY } });
    expect(other.data?.publishPlan ?? null).toBeNull();
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_DRAFT_ALREADY_PUBLISHED', field: 'input.effectiveFrom', version: 2, effectiveFrom: APRIL });

    for (const retry of [{ draftId, effectiveFrom: APRIL }, { draftId }]) {
      const r = await svc.request(PUBLISH, { i: retry });
      expect(r.errors, JSON.stringify(retry)).toBeUndefined();
      expect(r.data.publishPlan.version).toEqual(first.data.publishPlan.version);
    }
  });
});
