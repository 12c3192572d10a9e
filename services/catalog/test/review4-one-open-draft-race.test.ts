/**
 * Bug: "one open draft per plan" is checked with a plain read
 * (services/catalog/src/application/create-plan-draft.ts: `em.findOne(PlanVersion, { planId,
 * status: 'DRAFT' })` then insert), with no lock on the plan and no unique index on open drafts.
 * Product managers (or Plan Studio tabs) opening a draft of the same plan at the same moment all
 * succeed: the plan now has several open drafts. Publishing them then hands out the same version
 * number twice (one publish fails with INTERNAL_SERVER_ERROR) and another PM's edits silently
 * become the next version.
 *
 * The test makes the overlap certain instead of lucky: it holds an EXCLUSIVE lock on plan_audit
 * (reads go on, the audit insert at the end of each call waits) until all four calls are waiting.
 *
 * Fix: take a row lock on the plan (`select … for update`) before checking for an open draft, or
 * back the rule with a partial unique index (plan_id where status = 'DRAFT') and map its violation
 * to CONFLICT PLAN_DRAFT_ALREADY_OPEN. Exactly one of several overlapping calls opens a draft; the
 * others get CONFLICT PLAN_DRAFT_ALREADY_OPEN.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog, waitForLockWaiters } from './support';

const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';

describe('drafts of one plan opened at the same moment', () => {
  let svc: TestService;
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    await db.connect();
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }', { i: { document: readJson('plans/postpaid-20gb.json') } });
    expect(r.errors).toBeUndefined();
  });
  afterAll(async () => {
    await db.end();
    await svc?.close();
  });

  it('opens exactly one draft; the other calls get CONFLICT PLAN_DRAFT_ALREADY_OPEN', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    const editors = ['Alice', 'Bob', 'Carol', 'Dave'];
    await db.query('begin');
    await db.query(`lock table "${svc.schema}".plan_audit in exclusive mode`);
    const pending = Promise.all(editors.map((who) => svc.request(DRAFT, { i: { document: { ...structuredClone(doc), name: `Smart 20 GB (${who})` } } })));
    await waitForLockWaiters(db, editors.length, [`%${svc.schema}%`]);
    await db.query('commit');
    const results = await pending;

    const versions = await svc.request('{ plan(code: "POSTPAID_20GB") { versions { status } } }');
    const openDrafts = versions.data.plan.versions.filter((v: { status: string }) => v.status === 'DRAFT');
    expect(openDrafts, 'open drafts of POSTPAID_20GB').toHaveLength(1);
    expect(results.map((r) => r.errors?.[0]?.extensions?.reason ?? 'OK').sort()).toEqual(['OK', 'PLAN_DRAFT_ALREADY_OPEN', 'PLAN_DRAFT_ALREADY_OPEN', 'PLAN_DRAFT_ALREADY_OPEN']);
  });
});
