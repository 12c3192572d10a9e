/**
 * Review (session 33): publishing validated `offer` rules and `compatibleOffers` against every offer,
 * retired ones included, so a new version could upsell (and list as compatible) an offer no longer
 * sold. Now a draft naming a retired offer shows OFFER_RETIRED at each reference and publishing (or
 * importing) it is refused (PLAN_INVALID); the version published before the retirement stays in force
 * and still rates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } validation { valid problems { pointer code } } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { version } } }';
const RETIRE = 'mutation($i: RetireOfferInput!) { retireOffer(input: $i) { offer { status } } }';
const SIMULATE = 'query($i: SimulateRatingInput!) { simulateRating(input: $i) { rated } }';

let svc: TestService;
beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z');
});
afterAll(() => svc?.close());

describe('a new plan version naming a retired offer', () => {
  it('is refused at each reference; the version published before keeps rating', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    const v1 = await svc.request(IMPORT, { i: { document: doc } }, ADMIN);
    expect(v1.errors).toBeUndefined();
    (svc.runtime.clock as ManualClock).advance(60_000);
    expect((await svc.request(RETIRE, { i: { code: 'DATA_BOOST_5GB', reason: 'Replaced by the 10 GB boost' } }, ADMIN)).data?.retireOffer.offer.status).toBe('RETIRED');

    const listed = doc.compatibleOffers.indexOf('DATA_BOOST_5GB');
    const rule = doc.rules.findIndex((r: { event: { type: string; params: { offerCode?: string } } }) => r.event.type === 'offer' && r.event.params.offerCode === 'DATA_BOOST_5GB');
    const changed = { ...doc, description: `${doc.description} (v2)` };
    const draft = await svc.request(DRAFT, { i: { document: changed } }, ADMIN);
    expect(draft.data?.createPlanDraft.validation).toEqual({
      valid: false,
      problems: [
        { pointer: `/compatibleOffers/${listed}`, code: 'OFFER_RETIRED' },
        { pointer: `/rules/${rule}/event/params/offerCode`, code: 'OFFER_RETIRED' },
      ],
    });
    const published = await svc.request(PUBLISH, { i: { draftId: draft.data.createPlanDraft.draft.id } }, ADMIN);
    expect(published.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    const imported = await svc.request(IMPORT, { i: { document: { ...changed, description: `${doc.description} (v3)` } } }, ADMIN);
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });

    // Version 1, published while the offer was on sale: unchanged, in force, and it rates.
    const again = await svc.request(IMPORT, { i: { document: doc } }, ADMIN);
    expect(again.data?.importPlan).toEqual({ created: false, version: v1.data.importPlan.version });
    const record = { id: 'r1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-01T10:00:00Z', calledNumber: '+4915112345678' };
    const sim = await svc.request(SIMULATE, { i: { planVersionId: v1.data.importPlan.version.id, records: [record] } }, ADMIN);
    expect(sim.errors).toBeUndefined();
    expect(sim.data.simulateRating.rated).toBe(1);
  });
});
