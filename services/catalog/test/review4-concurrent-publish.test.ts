/**
 * Bug: `publishPlan` is documented as idempotent ("Publishing the same draft again returns the
 * version it became"), but two calls that overlap both read the draft as DRAFT without a lock
 * (services/catalog/src/application/publish-plan.ts: `em.findOne(PlanVersion, …)` then
 * `plan.latestVersion += 1`), both compute the same version number, and the later one dies on the
 * outbox's unique event id (or on plan_version's unique (plan_id, version)): the caller gets
 * INTERNAL_SERVER_ERROR for a publish that succeeded.
 *
 * How a user meets it: Plan Studio's Publish button clicked twice, or a client retrying a slow
 * publish, or `ledgerline catalog publish` run by two CI jobs at once.
 *
 * Fix: serialize publishes of one plan (lock the plan row / the draft row `for update` before
 * reading its status and latestVersion, or catch the unique violation and re-read), so every
 * overlapping call returns the same published version, with one PUBLISHED audit entry and one
 * plan.published event.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog, waitForLockWaiters } from './support';

const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } validation { valid } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version status } } }';

describe('publishPlan called several times at once', () => {
  let svc: TestService;
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await svc?.close();
  });

  it('returns the same published version to every overlapping call', async () => {
    const draft = await svc.request(DRAFT, { i: { document: readJson('plans/prepaid-bundle-30d.json') } });
    expect(draft.data.createPlanDraft.validation.valid).toBe(true);
    const draftId = draft.data.createPlanDraft.draft.id;

    // Make the overlap certain: the audit insert at the end of each publish waits until all three are in flight.
    await db.query('begin');
    await db.query(`lock table "${svc.schema}".plan_audit in exclusive mode`);
    const pending = Promise.all([1, 2, 3].map(() => svc.request(PUBLISH, { i: { draftId } })));
    await waitForLockWaiters(db, 3, [`%${svc.schema}%`]);
    await db.query('commit');
    const results = await pending;

    expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK')).toEqual(['OK', 'OK', 'OK']);
    for (const r of results) expect(r.data.publishPlan.version).toEqual({ id: draftId, version: 1, status: 'PUBLISHED' });
    const audit = await svc.request('{ plan(code: "PREPAID_BUNDLE_30D") { audit { action } } }');
    expect(audit.data.plan.audit.filter((a: { action: string }) => a.action === 'PUBLISHED')).toHaveLength(1);
  });
});
