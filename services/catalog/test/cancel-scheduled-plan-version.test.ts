/**
 * `cancelScheduledPlanVersion`: the pair of review 20's PLAN_VERSION_SCHEDULED refusal. A version
 * published for a later date could not be withdrawn, so a publish (or a catalog-as-code import)
 * dated before it was refused for good. Now a catalog editor cancels it with a reason while its
 * date has not come: it stays in the history as CANCELLED (audit entry, event through the outbox),
 * stops counting for the timeline, and an earlier-dated publish goes through. A version in force is
 * never withdrawn (lines were sold on it): CONFLICT PLAN_VERSION_IN_FORCE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version effectiveFrom } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version effectiveFrom } } }';
const CANCEL = 'mutation($i: CancelScheduledPlanVersionInput!) { cancelScheduledPlanVersion(input: $i) { plan { code status } version { id version status effectiveFrom } } }';
const withFee = (doc: { recurringFee: object }, amount: string) => ({ ...doc, recurringFee: { ...doc.recurringFee, amount } });
const NOW = '2026-03-01T09:00:00Z';

describe('cancelScheduledPlanVersion', () => {
  let svc: TestService;
  const clock = new ManualClock(new Date(NOW));
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

  it('cancels a scheduled version (kept as CANCELLED, audited, event emitted); then an earlier-dated publish succeeds', async () => {
    const a = readJson('plans/prepaid-bundle-30d.json');
    await svc.request(IMPORT, { i: { document: a } });
    const scheduled = (await svc.request(PUBLISH, { i: { draftId: await draftOf(withFee(a, '14.99')), effectiveFrom: '2026-04-01T00:00:00Z' } })).data.publishPlan.version;
    expect(scheduled.version).toBe(2);
    const earlierDraft = await draftOf(withFee(a, '12.99'));
    const refused = await svc.request(PUBLISH, { i: { draftId: earlierDraft, effectiveFrom: '2026-03-15T00:00:00Z' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ reason: 'PLAN_VERSION_SCHEDULED', scheduledVersionId: scheduled.id });

    const cancelled = await svc.request(CANCEL, { i: { versionId: scheduled.id, reason: 'price not approved' } });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data.cancelScheduledPlanVersion).toEqual({
      plan: { code: 'PREPAID_BUNDLE_30D', status: 'PUBLISHED' },
      version: { id: scheduled.id, version: 2, status: 'CANCELLED', effectiveFrom: '2026-04-01T00:00:00.000Z' },
    });
    // Again: the same answer, nothing more written (a retry is harmless).
    const again = await svc.request(CANCEL, { i: { versionId: scheduled.id, reason: 'price not approved' } });
    expect(again.data.cancelScheduledPlanVersion.version.status).toBe('CANCELLED');

    const published = await svc.request(PUBLISH, { i: { draftId: earlierDraft, effectiveFrom: '2026-03-15T00:00:00Z' } });
    expect(published.errors).toBeUndefined();
    expect(published.data.publishPlan.version.version).toBe(3);

    const p = await svc.request(
      '{ plan(code: "PREPAID_BUNDLE_30D") { status now: currentVersion { version } april: versionAt(at: "2026-04-02T00:00:00Z") { version } versions { version status } audit { action planVersionId diff } } }',
    );
    expect({ now: p.data.plan.now.version, april: p.data.plan.april.version }).toEqual({ now: 1, april: 3 });
    expect(p.data.plan.versions.map((v: { version: number; status: string }) => `${v.version}:${v.status}`)).toEqual(['1:PUBLISHED', '2:CANCELLED', '3:PUBLISHED']);
    const audit = p.data.plan.audit.filter((e: { action: string }) => e.action === 'VERSION_CANCELLED');
    expect(audit).toHaveLength(1);
    expect(audit[0].planVersionId).toBe(scheduled.id);
    expect(audit[0].diff).toEqual(expect.arrayContaining([{ op: 'replace', path: '/status', value: 'CANCELLED' }, { op: 'add', path: '/reason', value: 'price not approved' }]));
    // Never shown as in force. Staff (an agent) see the withdrawn version for what it is; a customer
    // never saw it (a version still to come is staff's: scheduled-plans-not-public.test.ts), and its
    // withdrawal does not show it either, nor version 3 before its date.
    const versionsFor = async (caller: Caller) =>
      (await svc.request('{ plan(code: "PREPAID_BUNDLE_30D") { versions { version status } } }', undefined, caller)).data.plan.versions.map((v: { version: number; status: string }) => `${v.version}:${v.status}`);
    expect(await versionsFor({ role: 'AGENT', subject: 'agent.bob', scopes: [] })).toEqual(['1:PUBLISHED', '2:CANCELLED', '3:PUBLISHED']);
    expect(await versionsFor({ role: 'CUSTOMER', subject: 'c', customerId: 'cus_1', scopes: [] })).toEqual(['1:PUBLISHED']);

    await svc.runtime.relay.drain();
    const rows = await svc.runtime.orm.em.fork().getConnection().execute(`select subject, payload from outbox where subject = 'billing.catalog.plan.versioncancelled'`);
    expect(rows).toHaveLength(1);
    const event = JSON.parse(rows[0].payload);
    expect(event).toMatchObject({ type: 'ProductOfferingStateChangeEvent', subject: expect.any(String) });
    expect(event.data).toEqual({
      planId: event.subject,
      code: 'PREPAID_BUNDLE_30D',
      version: 2,
      planVersionId: scheduled.id,
      effectiveFrom: '2026-04-01T00:00:00.000Z',
      reason: 'price not approved',
      cancelledAt: '2026-03-01T09:00:00.000Z',
    });
  });

  it('refuses to cancel a version in force (also one whose scheduled date has come), a draft, an unknown id, and a blank reason', async () => {
    const a = readJson('plans/postpaid-20gb.json');
    const v1 = (await svc.request(IMPORT, { i: { document: a } })).data.importPlan.version;
    const inForce = await svc.request(CANCEL, { i: { versionId: v1.id, reason: 'oops' } });
    expect(inForce.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_IN_FORCE', field: 'input.versionId' });
    expect(inForce.errors?.[0]?.message).toContain('in force since');

    const v2 = (await svc.request(IMPORT, { i: { document: withFee(a, '31.00'), effectiveFrom: '2026-03-02T00:00:00Z' } })).data.importPlan.version;
    const blank = await svc.request(CANCEL, { i: { versionId: v2.id, reason: '   ' } });
    expect(blank.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reason' });
    const draftId = await draftOf(withFee(a, '33.00'));
    const draft = await svc.request(CANCEL, { i: { versionId: draftId, reason: 'not needed' } });
    expect(draft.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_NOT_SCHEDULED', field: 'input.versionId' });
    const unknown = await svc.request(CANCEL, { i: { versionId: 'plv_nope', reason: 'x' } });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.versionId' });

    clock.set('2026-03-02T00:00:00Z');
    try {
      const due = await svc.request(CANCEL, { i: { versionId: v2.id, reason: 'too late' } });
      expect(due.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_VERSION_IN_FORCE' });
      const p = await svc.request('{ plan(code: "POSTPAID_20GB") { currentVersion { version } versions { version status } } }');
      expect(p.data.plan.currentVersion.version).toBe(2);
      expect(p.data.plan.versions.map((v: { status: string }) => v.status)).toEqual(['PUBLISHED', 'PUBLISHED', 'DRAFT']);
    } finally {
      clock.set(NOW);
    }
  });

  it('a plan whose only version was scheduled and is cancelled is no longer SCHEDULED: it reads DRAFT, out of every listing but the editors', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_WITHDRAWN' };
    const v1 = (await svc.request(IMPORT, { i: { document: doc, effectiveFrom: '2026-04-01T00:00:00Z' } })).data.importPlan.version;
    const r = await svc.request(CANCEL, { i: { versionId: v1.id, reason: 'launch postponed' } });
    expect(r.errors).toBeUndefined();
    expect(r.data.cancelScheduledPlanVersion.plan.status).toBe('DRAFT');

    const codes = async (query: string, caller?: Parameters<TestService['request']>[2]) =>
      ((await svc.request(query, undefined, caller)).data?.plans.edges ?? []).map((e: { node: { code: string } }) => e.node.code);
    expect(await codes('{ plans(first: 50, filter: { status: SCHEDULED }) { edges { node { code } } } }')).not.toContain('PAYG_WITHDRAWN');
    expect(await codes('{ plans(first: 50, filter: { status: DRAFT }) { edges { node { code } } } }')).toContain('PAYG_WITHDRAWN');
    const customer = { role: 'CUSTOMER' as const, subject: 'c', customerId: 'cus_1', scopes: [] };
    expect(await codes('{ plans(first: 50) { edges { node { code } } } }', customer)).not.toContain('PAYG_WITHDRAWN');
    expect((await svc.request('{ plan(code: "PAYG_WITHDRAWN") { code } }', undefined, customer)).data.plan).toBeNull();
    clock.set('2026-04-02T00:00:00Z');
    try {
      const p = await svc.request('{ plan(code: "PAYG_WITHDRAWN") { status currentVersion { version } } }');
      expect(p.data.plan).toEqual({ status: 'DRAFT', currentVersion: null });
      // Importing the same document again publishes it anew (the cancelled version is not "already published").
      const again = await svc.request(IMPORT, { i: { document: doc } });
      expect(again.data.importPlan).toMatchObject({ created: true, version: { version: 2 } });
      expect((await svc.request('{ plan(code: "PAYG_WITHDRAWN") { status } }')).data.plan.status).toBe('PUBLISHED');
    } finally {
      clock.set(NOW);
    }
  });

  it('is for catalog editors only', async () => {
    const doc = { ...readJson('plans/prepaid-payg.json'), code: 'PAYG_EDITORS_ONLY' };
    const v1 = (await svc.request(IMPORT, { i: { document: doc, effectiveFrom: '2026-05-01T00:00:00Z' } })).data.importPlan.version;
    const anonymous = await svc.request(CANCEL, { i: { versionId: v1.id, reason: 'x' } }, { role: 'ANONYMOUS', subject: 'a', scopes: [] });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    for (const caller of [{ role: 'CUSTOMER' as const, subject: 'c', customerId: 'cus_1', scopes: [] }, { role: 'AGENT' as const, subject: 'agent', scopes: [] }]) {
      const r = await svc.request(CANCEL, { i: { versionId: v1.id, reason: 'x' } }, caller);
      expect(r.errors?.[0]?.extensions?.code, caller.role).toBe('FORBIDDEN');
    }
    const admin = await svc.request(CANCEL, { i: { versionId: v1.id, reason: 'x' } }, { role: 'ADMIN', subject: 'pm', scopes: [] });
    expect(admin.data.cancelScheduledPlanVersion.version.status).toBe('CANCELLED');
  });
});
