// Review, 2026-11-29 (session 31). Invoices group usage by the zone usage gives it: a destination
// zone at home, `ROAMING_<zone>` abroad. A destination zone named ROAMING_EU was accepted, so calls to
// it were billed on one invoice line with the usage roamed in the roaming zone EU. validatePlan
// reports it at its pointer, as a destination zone HOME, and a plan with one is not published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const VALIDATE = 'query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id } } }';

describe('catalog: a destination zone named like roaming usage on the invoice', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-02-01T09:00:00Z');
  });
  afterAll(() => svc?.close());

  it('validatePlan reports a destination zone ROAMING_EU at its pointer, and the plan is not published', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    doc.code = 'POSTPAID_ROAMING_LABEL_DESTINATION';
    doc.zones.destinations.prefixes.push({ prefix: '+41', zone: 'ROAMING_EU' });
    const at = `/zones/destinations/prefixes/${doc.zones.destinations.prefixes.length - 1}/zone`;
    const r = await svc.request(VALIDATE, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(r.data.validatePlan).toEqual({ valid: false, problems: [{ pointer: at, code: 'RESERVED_ZONE_NAME' }] });
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect(imported.errors?.[0]?.message).toContain(at);
  });
});
