// Review, 2026-11-29 (session 31). A plan document with a zone table or an allowance of the wrong shape
// (`"prefixes": {}`, a `null` entry, `"zones": null`, an allowance without an id) made validatePlan
// throw a TypeError from inside the validator: INTERNAL_SERVER_ERROR for validatePlan, a draft's
// validation and importPlan, where the product manager needs the problem at its JSON pointer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const VALIDATE = 'query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id } } }';

type Doc = ReturnType<typeof readJson>;
const cases: Array<[string, (doc: Doc) => void, string]> = [
  ['a destination prefix table that is an object', (doc) => { doc.zones.destinations.prefixes = {}; }, '/zones/destinations/prefixes'],
  ['a null destination prefix', (doc) => { doc.zones.destinations.prefixes[0] = null; }, '/zones/destinations/prefixes/0'],
  ['a roaming zone list that is true', (doc) => { doc.zones.roaming.zones = true; }, '/zones/roaming/zones'],
  ['a null roaming zone', (doc) => { doc.zones.roaming.zones[1] = null; }, '/zones/roaming/zones/1'],
  ['zones null', (doc) => { doc.zones = null; }, '/zones'],
  ['an allowance without an id', (doc) => { delete doc.allowances[0].id; }, '/allowances/0/id'],
  ['an allowance id that is a number', (doc) => { doc.allowances[0].id = 7; }, '/allowances/0/id'],
];

describe('catalog: a plan document of the wrong shape is reported at its pointer, never INTERNAL', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-02-01T09:00:00Z');
  });
  afterAll(() => svc?.close());

  it.each(cases)('%s', async (_name, mutate, pointer) => {
    const doc = readJson('plans/postpaid-20gb.json');
    doc.code = 'POSTPAID_MALFORMED';
    mutate(doc);
    const r = await svc.request(VALIDATE, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(r.data.validatePlan.valid).toBe(false);
    expect(r.data.validatePlan.problems).toContainEqual(expect.objectContaining({ pointer }));
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
  });
});
