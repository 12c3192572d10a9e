/**
 * The catalog also runs on the embedded SQLite file (no DATABASE_URL: `npm start` on a laptop).
 * What review 4 changed must hold there too: the migrations (the partial unique index on open
 * drafts) apply; SQLite has no `select … for update`, and overlapping publishes and drafts are
 * still one publish and one draft (one writer at a time); the code prefix escapes LIKE wildcards
 * with the same `escape` clause as on PostgreSQL. A new offer's row is inserted `on conflict do
 * nothing … returning` (lockOrCreateOffer): what it returns decides CREATED, so it is pinned here too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { catalogService } from '../src/service';
import { importOffers, readJson } from './support';

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }';
const PUBLISH = 'mutation($i: PublishPlanInput!) { publishPlan(input: $i) { version { id version status } } }';
const codes = (r: { data?: any }) => r.data.plans.edges.map((e: { node: { code: string } }) => e.node.code);

describe('catalog on SQLite', () => {
  let svc: TestService;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-catalog-sqlite-'));

  beforeAll(async () => {
    svc = await startServiceForTest(catalogService, { env: { DATABASE_URL: '', LEDGERLINE_DATA_DIR: dataDir }, clock: new ManualClock(new Date('2026-03-01T09:00:00Z')) });
    await importOffers(svc);
  });
  afterAll(async () => {
    await svc?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('imports new plans, also two of the same at once (one publish)', async () => {
    expect(fs.existsSync(path.join(dataDir, 'catalog.sqlite')), 'runs on the SQLite file').toBe(true);
    const doc = readJson('plans/prepaid-payg.json');
    const twice = await Promise.all([1, 2].map(() => svc.request(IMPORT, { i: { document: doc } })));
    expect(twice.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK')).toEqual(['OK', 'OK']);
    expect(twice.map((r) => r.data.importPlan.created).sort()).toEqual([false, true]);
    for (const f of ['prepaid-bundle-30d.json', 'postpaid-20gb.json']) expect((await svc.request(IMPORT, { i: { document: readJson(`plans/${f}`) } })).errors, f).toBeUndefined();
  });

  it('creates a new offer once from overlapping first imports, audited CREATED and announced once', async () => {
    const doc = { ...readJson('offers/roam-world-pass-7d.json'), code: 'SQLITE_RACE_PASS', name: 'SQLite race pass' };
    const answers = await Promise.all([1, 2, 3].map(() => svc.request('mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code } } }', { i: { document: doc } })));
    expect(answers.map((r) => r.errors?.[0]?.message ?? r.data.importOffer.offer.code)).toEqual(['SQLITE_RACE_PASS', 'SQLITE_RACE_PASS', 'SQLITE_RACE_PASS']);
    expect((await svc.request('{ offer(code: "SQLITE_RACE_PASS") { audit { action } } }')).data.offer.audit).toEqual([{ action: 'CREATED' }]);
    const events = (await svc.runtime.orm.em.fork().getConnection().execute(`select payload from outbox where subject = 'billing.catalog.offer.published'`)) as { payload: string }[];
    expect(events.filter((r) => JSON.parse(r.payload).data.code === 'SQLITE_RACE_PASS')).toHaveLength(1);
  });

  it('matches the code prefix literally', async () => {
    expect(codes(await svc.request('{ plans(first: 10, filter: { codePrefix: "PREPAID_B" }) { edges { node { code } } } }'))).toEqual(['PREPAID_BUNDLE_30D']);
    expect(codes(await svc.request('{ plans(first: 10, filter: { codePrefix: "PREPAID_" }) { edges { node { code } } } }'))).toEqual(['PREPAID_BUNDLE_30D', 'PREPAID_PAYG']);
    expect(codes(await svc.request('{ plans(first: 10, filter: { codePrefix: "PRE%" }) { edges { node { code } } } }'))).toEqual([]);
  });

  it('opens one draft of several overlapping calls, and publishes it once however often it is asked', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    const drafts = await Promise.all(['Alice', 'Bob', 'Carol'].map((who) => svc.request(DRAFT, { i: { document: { ...doc, name: `Smart 20 GB (${who})` } } })));
    expect(drafts.map((r) => r.errors?.[0]?.extensions?.reason ?? 'OK').sort()).toEqual(['OK', 'PLAN_DRAFT_ALREADY_OPEN', 'PLAN_DRAFT_ALREADY_OPEN']);
    const draftId = drafts.find((r) => !r.errors)!.data.createPlanDraft.draft.id;
    const published = await Promise.all([1, 2, 3].map(() => svc.request(PUBLISH, { i: { draftId } })));
    for (const r of published) expect(r.data?.publishPlan.version, JSON.stringify(r.errors)).toEqual({ id: draftId, version: 2, status: 'PUBLISHED' });
    const audit = await svc.request('{ plan(code: "POSTPAID_20GB") { audit { action } } }');
    expect(audit.data.plan.audit.filter((a: { action: string }) => a.action === 'PUBLISHED')).toHaveLength(2);
  });
});
