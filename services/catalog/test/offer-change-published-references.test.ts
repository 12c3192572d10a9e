/**
 * Offers are not versioned: `importOffer` rewrites an offer in place, while a published plan version
 * is immutable and its lines stay pinned to it. A re-import that dropped (or renamed) an allowance a
 * published version's `rate` rule consumes (ROAM_WORLD_PASS_7D's "roam-pass-voice", consumed by
 * FAMILY_SHARE_50GB and POSTPAID_20GB) was accepted without a word: the version's reference dangled,
 * and a pass bought from then on granted no such bucket, so the rule charged its price for what the
 * pass was sold to cover. One that changed the allowance's unit made those versions UNIT_MISMATCH:
 * PLAN_INVALID at rating, every event of their lines rejected. Now importOffer refuses such a document
 * (BAD_USER_INPUT OFFER_ALLOWANCE_IN_USE, field input.document) with one problem per change, at its
 * JSON pointer in the offer, naming every published version affected (superseded ones and retired
 * plans' too: lines stay on them) and the rules that consume it; nothing is written. A change nothing
 * published refers to goes through, also when a draft refers to it (the draft's own validation
 * reports it, and publishing it is refused). A publish overlapping such an import waits for it (both
 * lock the allowance ids involved: offer-allowance-locks.test.ts) and validates against its document:
 * neither can slip past the other's check.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { TEST_DATABASE_URL, type ManualClock, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog, waitForLockWaiters } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT_OFFER = 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code document } } }';
const IMPORT_PLAN = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id version } } }';
const DRAFT = 'mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } validation { valid problems { pointer code } } } }';
const OFFER = 'query($c: String!) { offer(code: $c) { document audit { action } } }';

type Doc = { code: string; rules: { name: string; event: { params: Record<string, unknown> } }[]; allowances: { id: string; unit: string }[] } & Record<string, unknown>;
const pass = (): Doc => readJson('offers/roam-world-pass-7d.json');
const ruleAt = (doc: Doc, name: string) => `/rules/${doc.rules.findIndex((r) => r.name === name)}/event/params/allowanceId`;

let svc: TestService;
const versions: Record<string, string> = {};
const family: Doc = readJson('plans/family-share-50gb.json');
const postpaid: Doc = readJson('plans/postpaid-20gb.json');

beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z');
  const clock = svc.runtime.clock as ManualClock;
  const publish = async (key: string, document: object) => {
    clock.advance(60_000);
    const r = await svc.request(IMPORT_PLAN, { i: { document } }, ADMIN);
    if (r.errors) throw new Error(`${key}: ${JSON.stringify(r.errors)}`);
    versions[key] = r.data.importPlan.version.id;
  };
  await publish('FAMILY_SHARE_50GB@1', family);
  await publish('POSTPAID_20GB@1', postpaid);
  // Version 2 no longer sells the World pass rules; version 1 keeps its lines, and its rules.
  await publish('POSTPAID_20GB@2', { ...postpaid, rules: postpaid.rules.filter((r) => !r.name.startsWith('roaming-pass-')) });
  const retired = await svc.request('mutation { retirePlan(input: { code: "FAMILY_SHARE_50GB" }) { plan { status } } }', {}, ADMIN);
  expect(retired.data?.retirePlan.plan.status).toBe('RETIRED');
});
afterAll(() => svc?.close());

const outboxCount = async () => Number(((await svc.runtime.orm.em.fork().getConnection().execute(`select count(*) as n from outbox`)) as { n: string }[])[0].n);

describe('importOffer and the published plan versions that consume its allowances', () => {
  it('refuses to drop an allowance published versions rate from, listing each version and rule; nothing is written', async () => {
    const doc = pass();
    const dropped = { ...doc, allowances: doc.allowances.filter((a) => a.id !== 'roam-pass-voice') };
    const events = await outboxCount();
    const r = await svc.request(IMPORT_OFFER, { i: { document: dropped } }, ADMIN);
    expect(r.data).toBeNull();
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_ALLOWANCE_IN_USE', field: 'input.document' });
    const problems = r.errors![0].extensions!.problems as { pointer: string; code: string; message: string; planVersions: unknown[] }[];
    expect(problems.map(({ pointer, code, planVersions }) => ({ pointer, code, planVersions }))).toEqual([
      {
        pointer: '/allowances',
        code: 'ALLOWANCE_IN_USE',
        planVersions: [
          // The plan is retired and version 1 of POSTPAID_20GB superseded: lines pinned to them still rate with them.
          { planCode: 'FAMILY_SHARE_50GB', version: 1, planVersionId: versions['FAMILY_SHARE_50GB@1'], rules: [ruleAt(family, 'roaming-pass-voice')] },
          { planCode: 'POSTPAID_20GB', version: 1, planVersionId: versions['POSTPAID_20GB@1'], rules: [ruleAt(postpaid, 'roaming-pass-voice')] },
        ],
      },
    ]);
    expect(problems[0].message).toContain('"roam-pass-voice"');
    expect(problems[0].message).toContain(`FAMILY_SHARE_50GB version 1 (${ruleAt(family, 'roaming-pass-voice')})`);
    expect(r.errors![0].message).toContain('/allowances');
    const offer = (await svc.request(OFFER, { c: doc.code }, ADMIN)).data.offer;
    expect({ document: offer.document, audit: offer.audit, events: await outboxCount() }).toEqual({ document: doc, audit: [{ action: 'CREATED' }], events });
  });

  it('refuses to change the unit of an allowance published versions rate from, at /allowances/i/unit (and both problems at once)', async () => {
    const doc = pass();
    const i = doc.allowances.findIndex((a) => a.id === 'roam-pass-data');
    const seconds = { ...doc, allowances: doc.allowances.map((a) => (a.id === 'roam-pass-data' ? { ...a, unit: 'SECOND' } : a)) };
    const r = await svc.request(IMPORT_OFFER, { i: { document: seconds } }, ADMIN);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_ALLOWANCE_IN_USE', field: 'input.document' });
    const problems = r.errors![0].extensions!.problems as { pointer: string; code: string; message: string; planVersions: { planCode: string; version: number; rules: string[] }[] }[];
    expect(problems.map((p) => `${p.pointer} ${p.code} ${p.planVersions.map((v) => `${v.planCode}@${v.version}${v.rules.join(',')}`).join(' ')}`)).toEqual([
      `/allowances/${i}/unit ALLOWANCE_UNIT_IN_USE FAMILY_SHARE_50GB@1${ruleAt(family, 'roaming-pass-data')} POSTPAID_20GB@1${ruleAt(postpaid, 'roaming-pass-data')}`,
    ]);
    expect(problems[0].message).toMatch(/would count "SECOND".*consume it in "MB"/);

    const both = { ...seconds, allowances: seconds.allowances.filter((a) => a.id !== 'roam-pass-voice') };
    const twice = await svc.request(IMPORT_OFFER, { i: { document: both } }, ADMIN);
    expect((twice.errors?.[0]?.extensions?.problems as { pointer: string; code: string }[]).map((p) => `${p.pointer} ${p.code}`).sort()).toEqual([`/allowances ALLOWANCE_IN_USE`, `/allowances/${i}/unit ALLOWANCE_UNIT_IN_USE`]);
    expect((await svc.request(OFFER, { c: doc.code }, ADMIN)).data.offer.document).toEqual(doc);
  });

  it('refuses a NEW offer whose allowance would take over an id published versions rate from with another unit; the offer is not created', async () => {
    // The catalog's offers are read in code order: AAA_ROAM_PASS's "roam-pass-data" would be the one those rules resolve to.
    const doc = { ...pass(), code: 'AAA_ROAM_PASS', name: 'Shadowing pass', allowances: [{ ...pass().allowances[0], unit: 'SECOND' }] };
    const r = await svc.request(IMPORT_OFFER, { i: { document: doc } }, ADMIN);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_ALLOWANCE_IN_USE', field: 'input.document' });
    expect((r.errors![0].extensions!.problems as { pointer: string; code: string }[]).map((p) => `${p.pointer} ${p.code}`)).toEqual(['/allowances/0/unit ALLOWANCE_UNIT_IN_USE']);
    expect((await svc.request(OFFER, { c: 'AAA_ROAM_PASS' }, ADMIN)).data.offer).toBeNull();
  });

  it('accepts changes nothing published refers to: terms of a consumed allowance, an allowance no rule consumes, a new one', async () => {
    const doc = pass();
    const richer = {
      ...doc,
      price: '11.99',
      allowances: [...doc.allowances.map((a) => (a.id === 'roam-pass-data' ? { ...a, quantity: '2048' } : a)), { id: 'roam-pass-sms', unit: 'MESSAGE', quantity: '100', usageTypes: ['SMS'], validity: { days: 7 } }],
    };
    const r = await svc.request(IMPORT_OFFER, { i: { document: richer } }, ADMIN);
    expect(r.errors).toBeUndefined();
    const boost = readJson('offers/data-boost-5gb.json');
    const renamed = { ...boost, allowances: [{ ...boost.allowances[0], id: 'boost-data-eu', unit: 'MB' }] };
    const b = await svc.request(IMPORT_OFFER, { i: { document: renamed } }, ADMIN);
    expect(b.errors).toBeUndefined();
    expect((await svc.request(OFFER, { c: doc.code }, ADMIN)).data.offer.audit.map((a: { action: string }) => a.action)).toEqual(['CREATED', 'UPDATED']);
  });

  it('a draft referring to it does not stop the import: the draft\'s own validation reports it, and publishing it would be refused', async () => {
    const euPass = { ...pass(), code: 'EU_DATA_PASS', name: 'EU data pass', allowances: [{ ...pass().allowances[0], id: 'eu-pass-data' }] };
    expect((await svc.request(IMPORT_OFFER, { i: { document: euPass } }, ADMIN)).errors).toBeUndefined();
    const draftDoc = structuredClone(postpaid);
    const rule = draftDoc.rules.findIndex((r) => r.name === 'roaming-pass-data');
    draftDoc.rules[rule].event.params.allowanceId = 'eu-pass-data';
    const draft = await svc.request(DRAFT, { i: { document: draftDoc } }, ADMIN);
    expect(draft.data.createPlanDraft.validation).toEqual({ valid: true, problems: [] });

    const renamed = { ...euPass, allowances: [{ ...euPass.allowances[0], id: 'eu-pass-data-2' }] };
    const r = await svc.request(IMPORT_OFFER, { i: { document: renamed } }, ADMIN);
    expect(r.errors).toBeUndefined();
    const validated = await svc.request('mutation($i: ValidatePlanInput!) { validatePlan(input: $i) { valid problems { pointer code } } }', { i: { draftId: draft.data.createPlanDraft.draft.id } }, ADMIN);
    expect(validated.data.validatePlan).toEqual({ valid: false, problems: [{ pointer: `/rules/${rule}/event/params/allowanceId`, code: 'UNKNOWN_ALLOWANCE' }] });
  });
});

describe('a plan published while an import changes the offer it consumes', () => {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  beforeAll(() => db.connect());
  afterAll(() => db.end());

  it('waits for the import, then is validated against the new document (refused), never published on the old one', async () => {
    const racePass = { ...pass(), code: 'RACE_PASS', name: 'Race pass', allowances: [{ ...pass().allowances[0], id: 'race-pass-data' }] };
    expect((await svc.request(IMPORT_OFFER, { i: { document: racePass } }, ADMIN)).errors).toBeUndefined();
    const plan = structuredClone(postpaid);
    plan.code = 'RACE_PLAN';
    const rule = plan.rules.findIndex((r) => r.name === 'roaming-pass-data');
    plan.rules[rule].event.params.allowanceId = 'race-pass-data';
    // Nothing published consumes race-pass-data yet: the import passes its check, and is held before its commit.
    await db.query('begin');
    await db.query(`lock table "${svc.schema}".offer_audit in exclusive mode`);
    const imported = svc.request(IMPORT_OFFER, { i: { document: { ...racePass, allowances: [{ ...racePass.allowances[0], id: 'race-pass-mb' }] } } }, ADMIN);
    await waitForLockWaiters(db, 1, [`%${svc.schema}%offer_audit%`]);
    const published = svc.request(IMPORT_PLAN, { i: { document: plan } }, ADMIN);
    await waitForLockWaiters(db, 2, [`%${svc.schema}%`, '%catalog.allowance%']);
    await db.query('commit');
    const [i, p] = await Promise.all([imported, published]);
    expect(i.errors).toBeUndefined();
    expect(p.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect((p.errors![0].extensions!.problems as { pointer: string; code: string }[]).map((x) => `${x.pointer} ${x.code}`)).toEqual([`/rules/${rule}/event/params/allowanceId UNKNOWN_ALLOWANCE`]);
    expect((await svc.request('{ plan(code: "RACE_PLAN") { versions { status } } }', {}, ADMIN)).data.plan?.versions ?? []).not.toContainEqual({ status: 'PUBLISHED' });
  });
});
