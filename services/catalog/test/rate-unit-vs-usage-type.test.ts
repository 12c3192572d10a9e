// Brief catalogrules, 2026-11-30. A rate rule's unit was never compared with the usage it rates: a
// rule with unit MESSAGE on VOICE priced each second of a call as a message. validatePlan reports
// it at the rule's unit (UNIT_NOT_FOR_USAGE_TYPE, naming the unit VOICE is counted in), and a plan
// with one is not published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const VALIDATE = 'query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code message } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id } } }';

describe("catalog: a rate rule's unit that is not its usage type's", () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-02-01T09:00:00Z');
  });
  afterAll(() => svc?.close());

  it('validatePlan reports unit MESSAGE on a VOICE rule at its pointer, and the plan is not published', async () => {
    const doc = readJson('plans/prepaid-payg.json');
    doc.code = 'PREPAID_PAYG_VOICE_IN_MESSAGES';
    const i = doc.rules.findIndex((rule: { name: string }) => rule.name === 'voice-national');
    doc.rules[i].event.params.unit = 'MESSAGE';
    const at = `/rules/${i}/event/params/unit`;
    const r = await svc.request(VALIDATE, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(r.data.validatePlan).toMatchObject({ valid: false, problems: [{ pointer: at, code: 'UNIT_NOT_FOR_USAGE_TYPE' }] });
    expect(r.data.validatePlan.problems).toHaveLength(1);
    expect(r.data.validatePlan.problems[0].message).toContain('VOICE is counted in SECOND');
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect(imported.errors?.[0]?.message).toContain(at);
  });
});
