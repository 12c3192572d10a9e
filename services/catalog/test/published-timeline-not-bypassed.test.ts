/**
 * Two ways around the publish rules of a plan's timeline, both through publishPlan:
 * - publishPlan of a version since CANCELLED published it again under a new number (its number and
 *   date rewritten, the withdrawal undone). publishPlan is idempotent, so a retry of the publish that
 *   scheduled a price rise, arriving after the rise was cancelled, put the rise back on the timeline.
 * - a draft of an existing plan could switch its `paymentMode` (updatePlanDraft checked the code and
 *   the currency only) and be published: a PREPAID plan's version 2 sold as POSTPAID (subscribers
 *   reads the mode from the version's document) while the plan and its planPublished event still
 *   say PREPAID. createPlanDraft and importPlan refuse that change (PLAN_PAYMENT_MODE_CHANGE).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';
const UPDATE = 'mutation($i: UpdatePlanDraftInput!) { updatePlanDraft(input: $i) { draft { id } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version status effectiveFrom } } }';
const CANCEL = 'mutation($i: CancelScheduledPlanVersionInput!) { cancelScheduledPlanVersion(input: $i) { version { id status } } }';
const NOW = '2026-03-01T09:00:00Z';

describe('the published timeline cannot be bypassed through publishPlan', () => {
  let svc: TestService;
  beforeAll(async () => {
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock: new ManualClock(new Date(NOW)) });
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
  const timeline = async (code: string) =>
    (await svc.request(`{ plan(code: "${code}") { paymentMode april: versionAt(at: "2026-04-02T00:00:00Z") { version } versions { version status } } }`)).data.plan;

  it('a publish of a version since cancelled (a retry) is refused; the version stays cancelled with its number', async () => {
    const doc = readJson('plans/prepaid-bundle-30d.json');
    await svc.request(IMPORT, { i: { document: doc } });
    const rise = { ...doc, recurringFee: { ...doc.recurringFee, amount: '14.99' } };
    const publish = { i: { draftId: await draftOf(rise), effectiveFrom: '2026-04-01T00:00:00Z' } };
    const scheduled = (await svc.request(PUBLISH, publish)).data.publishPlan.version;
    expect(scheduled).toMatchObject({ version: 2, status: 'PUBLISHED' });
    expect((await svc.request(CANCEL, { i: { versionId: scheduled.id, reason: 'price rise withdrawn' } })).errors).toBeUndefined();

    const retried = await svc.request(PUBLISH, publish);
    expect(retried.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_IMMUTABLE', field: 'input.draftId' });
    expect(await timeline('PREPAID_BUNDLE_30D')).toMatchObject({ april: { version: 1 }, versions: [{ version: 1, status: 'PUBLISHED' }, { version: 2, status: 'CANCELLED' }] });
  });

  it('a draft of an existing plan cannot switch its payment mode, and such a draft is not published', async () => {
    const doc = readJson('plans/prepaid-payg.json');
    await svc.request(IMPORT, { i: { document: doc } });
    const draftId = await draftOf({ ...doc, description: 'Pay as you go, now with more.' });
    const postpaid = { ...doc, paymentMode: 'POSTPAID' };

    const updated = await svc.request(UPDATE, { i: { draftId, document: postpaid } });
    expect(updated.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_PAYMENT_MODE_CHANGE', field: 'input.document.paymentMode' });

    // A draft stored before updatePlanDraft checked the mode: publishing is the gate.
    await svc.runtime.orm.em.fork().getConnection().execute('update plan_version set document = ? where id = ?', [JSON.stringify(postpaid), draftId]);
    const published = await svc.request(PUBLISH, { i: { draftId } });
    expect(published.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_PAYMENT_MODE_CHANGE', field: 'input.document.paymentMode' });
    expect(await timeline('PREPAID_PAYG')).toMatchObject({ paymentMode: 'PREPAID', versions: [{ version: 1, status: 'PUBLISHED' }, { version: null, status: 'DRAFT' }] });
  });
});
