/**
 * importOffer checks the published plan versions that consume an offer's allowances, and publishing
 * validates a plan against the offers; both run in transactions that do not see each other's
 * uncommitted work. The offer's row lock (importOffer) and reading the offers `for share` (publish)
 * did not cover two cases, both shown here with one transaction held before its commit by a table
 * lock on its audit table (deterministic: the other caller is seen waiting, or done):
 * - two imports of two DIFFERENT offers granting the same allowance id: each checked against the
 *   other's old document (the id still granted there), both committed, the id granted by neither;
 * - a publish and the import of a NEW offer (its row not visible yet, so nothing to lock `for share`)
 *   whose allowance takes over an id the plan's rules consume, with another unit: whichever came
 *   first, the other did not see it, and the version was published on a reference that no longer
 *   compiled (UNIT_MISMATCH).
 * Now both take a transaction advisory lock per allowance id (import: exclusive, on the ids the offer
 * granted or grants; publish: shared, on the ids its rate rules consume), in one stable order: the
 * second waits for the first's commit and then sees its result.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { TEST_DATABASE_URL, type ManualClock, type TestService } from '@ledgerline/platform';
import { readJson, startCatalog, waitForLockWaiters } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT_OFFER = 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code document } } }';
const IMPORT_PLAN = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id version } } }';
const OFFER = 'query($c: String!) { offer(code: $c) { document } }';
const VERSIONS = 'query($c: String!) { plan(code: $c) { versions { version status } } }';

type Allowance = { id: string; unit: string } & Record<string, unknown>;
type Offer = { code: string; name: string; allowances: Allowance[] } & Record<string, unknown>;
type Plan = { code: string; rules: { name: string; event: { params: Record<string, unknown> } }[] } & Record<string, unknown>;
type Problem = { pointer: string; code: string; planVersions: { planCode: string; rules: string[] }[] };

const pass: Offer = readJson('offers/roam-world-pass-7d.json');
const postpaid: Plan = readJson('plans/postpaid-20gb.json');
const dataAllowance = pass.allowances.find((a) => a.id === 'roam-pass-data')!;
/** An offer granting one allowance `id` (MB, as the plan's rule consumes it, unless `unit`). */
const offerGranting = (code: string, id: string, unit = 'MB'): Offer => ({ ...pass, code, name: code, allowances: [{ ...dataAllowance, id, unit }] });
/** POSTPAID_20GB under another code, its World pass data rule consuming `id` (MB). */
const planConsuming = (code: string, id: string): { plan: Plan; rule: number } => {
  const plan = structuredClone(postpaid);
  plan.code = code;
  const rule = plan.rules.findIndex((r) => r.name === 'roaming-pass-data');
  plan.rules[rule].event.params.allowanceId = id;
  return { plan, rule };
};
// The held caller waits on its audit table; the other on an allowance lock (or, on the old code, also on the audit table).
const waiting = (schema: string) => [`%${schema}%audit%`, '%catalog.allowance%'];

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

const request = async (query: string, variables: Record<string, unknown>) => {
  (svc.runtime.clock as ManualClock).advance(60_000);
  return svc.request(query, variables, ADMIN);
};
const ok = async (query: string, variables: Record<string, unknown>) => {
  const r = await request(query, variables);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
};
/** Runs `held` until it blocks on `table` (locked by the test), then `second`; `table` is released once `second` waits or is done. */
async function interleave(table: string, held: () => Promise<{ errors?: unknown; data?: unknown }>, second: () => Promise<{ errors?: unknown; data?: unknown }>) {
  await db.query('begin');
  await db.query(`lock table "${svc.schema}".${table} in exclusive mode`);
  const first = held();
  await waitForLockWaiters(db, 1, [`%${svc.schema}%${table}%`]);
  const other = second();
  let otherDone = false;
  void other.finally(() => (otherDone = true));
  // Either it waits (the fix: on the allowance lock), or it runs through while the first is held (the old code).
  await Promise.race([other, waitForLockWaiters(db, 2, waiting(svc.schema))]);
  const ranThrough = otherDone;
  await db.query('commit');
  const [a, b] = await Promise.all([first, other]);
  return { first: a as { errors?: { extensions?: Record<string, unknown> }[]; data?: unknown }, second: b as { errors?: { extensions?: Record<string, unknown> }[]; data?: unknown }, ranThrough };
}

describe('two imports of different offers granting the same allowance id', () => {
  it('run one after the other: the second sees the first drop the id and is refused, the published version keeps its allowance', async () => {
    await ok(IMPORT_OFFER, { i: { document: offerGranting('TWIN_PASS_A', 'twin-data') } });
    await ok(IMPORT_OFFER, { i: { document: offerGranting('TWIN_PASS_B', 'twin-data') } });
    const { plan } = planConsuming('TWIN_PLAN', 'twin-data');
    await ok(IMPORT_PLAN, { i: { document: plan } });
    // Each alone is fine: the other offer still grants twin-data. Both together leave the version's rule with no bucket.
    const withoutIt = (code: string) => ({ ...offerGranting(code, 'twin-data'), allowances: [{ ...dataAllowance, id: `${code.toLowerCase().replaceAll('_', '-')}-data` }] });
    const { first, second } = await interleave(
      'offer_audit',
      () => request(IMPORT_OFFER, { i: { document: withoutIt('TWIN_PASS_A') } }),
      () => request(IMPORT_OFFER, { i: { document: withoutIt('TWIN_PASS_B') } }),
    );
    expect(first.errors).toBeUndefined();
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_ALLOWANCE_IN_USE', field: 'input.document' });
    const problems = second.errors![0].extensions!.problems as Problem[];
    expect(problems.map((p) => `${p.pointer} ${p.code} ${p.planVersions.map((v) => v.planCode).join(',')}`)).toEqual(['/allowances ALLOWANCE_IN_USE TWIN_PLAN']);
    expect((await ok(OFFER, { c: 'TWIN_PASS_B' })).offer.document.allowances.map((a: Allowance) => a.id)).toEqual(['twin-data']);
  });
});

describe('a publish and the import of a NEW offer taking over an allowance id the plan consumes (another unit)', () => {
  it('import first (not committed yet): the publish waits for it, then is validated against it (UNIT_MISMATCH), nothing published', async () => {
    await ok(IMPORT_OFFER, { i: { document: offerGranting('RACE_NEW_PASS', 'race-new-data') } });
    const { plan, rule } = planConsuming('RACE_NEW_PLAN', 'race-new-data');
    // AAA_… comes first in code order: its race-new-data (SECOND) is the one the plan's rule would resolve to.
    const { first, second, ranThrough } = await interleave(
      'offer_audit',
      () => request(IMPORT_OFFER, { i: { document: offerGranting('AAA_RACE_NEW_PASS', 'race-new-data', 'SECOND') } }),
      () => request(IMPORT_PLAN, { i: { document: plan } }),
    );
    expect(first.errors).toBeUndefined();
    expect({ ranThrough, published: second.errors ? null : second.data }).toEqual({ ranThrough: false, published: null });
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect((second.errors![0].extensions!.problems as Problem[]).map((x) => `${x.pointer} ${x.code}`)).toEqual([`/rules/${rule}/event/params/unit UNIT_MISMATCH`]);
    expect((await ok(VERSIONS, { c: 'RACE_NEW_PLAN' })).plan?.versions ?? []).toEqual([]);
  });

  it('publish first (not committed yet): the import waits for it, then sees the version and is refused; the offer is not created', async () => {
    await ok(IMPORT_OFFER, { i: { document: offerGranting('RACE_OLD_PASS', 'race-old-data') } });
    const { plan, rule } = planConsuming('RACE_OLD_PLAN', 'race-old-data');
    const { first, second, ranThrough } = await interleave(
      'plan_audit',
      () => request(IMPORT_PLAN, { i: { document: plan } }),
      () => request(IMPORT_OFFER, { i: { document: offerGranting('AAA_RACE_OLD_PASS', 'race-old-data', 'SECOND') } }),
    );
    expect(first.errors).toBeUndefined();
    expect(ranThrough).toBe(false);
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_ALLOWANCE_IN_USE', field: 'input.document' });
    const problems = second.errors![0].extensions!.problems as Problem[];
    expect(problems.map((p) => `${p.pointer} ${p.code} ${p.planVersions.map((v) => `${v.planCode}${v.rules.join(',')}`).join(' ')}`)).toEqual([
      `/allowances/0/unit ALLOWANCE_UNIT_IN_USE RACE_OLD_PLAN/rules/${rule}/event/params/allowanceId`,
    ]);
    expect((await ok(OFFER, { c: 'AAA_RACE_OLD_PASS' })).offer).toBeNull();
  });
});
