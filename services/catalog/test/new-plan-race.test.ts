/**
 * Two callers creating the same brand-new plan at once (two `ledgerline catalog publish` CI jobs,
 * two product managers): both find no plan with the code and both insert one, and the second used
 * to die on the unique plan.code with INTERNAL_SERVER_ERROR. Now the second's insert waits for the
 * first (`on conflict (code) do nothing`) and carries on with the plan the first wrote: an import
 * of the same document answers the version the first published (created: false), a second draft
 * gets CONFLICT PLAN_DRAFT_ALREADY_OPEN. The overlap is made certain as in the reviewer's race
 * tests: an EXCLUSIVE lock on plan_audit holds the first call before its commit.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog, waitForLockWaiters } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';

describe('two callers creating the same new plan at once', () => {
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

  /** Runs the calls with the first held before its commit until all are in flight. */
  async function overlapping(calls: (() => Promise<{ data?: any; errors?: { extensions?: Record<string, unknown> }[] }>)[]) {
    await db.query('begin');
    await db.query(`lock table "${svc.schema}".plan_audit in exclusive mode`);
    const pending = Promise.all(calls.map((call) => call()));
    await waitForLockWaiters(db, calls.length, [`%${svc.schema}%`, `insert into "plan"%on conflict%`]);
    await db.query('commit');
    return pending;
  }

  it('imports a new plan once; the overlapping import answers the same version, created: false', async () => {
    const doc = readJson('plans/prepaid-payg.json');
    const results = await overlapping([1, 2].map(() => () => svc.request(IMPORT, { i: { document: doc } })));
    expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK')).toEqual(['OK', 'OK']);
    expect(results.map((r) => r.data.importPlan.created).sort()).toEqual([false, true]);
    expect(results[0].data.importPlan.version).toEqual(results[1].data.importPlan.version);
    expect(results[0].data.importPlan.version.version).toBe(1);
    const plan = await svc.request('{ plan(code: "PREPAID_PAYG") { versions { status version } audit { action } } }');
    expect(plan.data.plan.versions).toEqual([{ status: 'PUBLISHED', version: 1 }]);
    expect(plan.data.plan.audit.filter((a: { action: string }) => a.action === 'PUBLISHED')).toHaveLength(1);
  });

  it('opens one draft of a new plan; the overlapping call gets CONFLICT PLAN_DRAFT_ALREADY_OPEN', async () => {
    const doc = { ...readJson('plans/prepaid-bundle-30d.json'), code: 'BUNDLE_RACE' };
    const results = await overlapping(['Alice', 'Bob'].map((who) => () => svc.request(DRAFT, { i: { document: { ...doc, name: `Bundle (${who})` } } })));
    expect(results.map((r) => r.errors?.[0]?.extensions?.reason ?? 'OK').sort()).toEqual(['OK', 'PLAN_DRAFT_ALREADY_OPEN']);
    expect(results.find((r) => r.errors)!.errors![0].extensions).toMatchObject({ code: 'CONFLICT', field: 'input.document.code' });
    const plan = await svc.request('{ plan(code: "BUNDLE_RACE") { status versions { status } } }');
    expect(plan.data.plan).toEqual({ status: 'DRAFT', versions: [{ status: 'DRAFT' }] });
  });
});
