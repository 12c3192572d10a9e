// A plan-change fee named ~200 characters on a plan with an 80-character name made a charge
// description ("<fee> for +49… (to <plan>)") longer than a one-off charge's description holds
// (ONE_OFF_DESCRIPTION_MAX, contracts), and invoicing dropped that postpaid fee: never billed. The
// catalog put no limit on fee names; its plan validation now reports such a name at its JSON
// pointer (pointer + message + code), and a plan with one is not published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONE_OFF_DESCRIPTION_MAX } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { importOffers, readJson, startCatalog } from './support';

const VALIDATE = 'query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code message } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id } } }';

describe('a plan fee name too long for the charge description', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    await importOffers(svc);
  });
  afterAll(() => svc?.close());

  const plan = (feeName: string) => {
    const doc = readJson('plans/postpaid-20gb.json');
    doc.code = 'POSTPAID_LONG_FEE_NAME';
    doc.name = 'Postpaid 20 GB with unlimited EU roaming, calls and texts, and a streaming pass'.padEnd(80, '+');
    doc.oneOffFees = [...doc.oneOffFees, { code: 'MOVE_IN', name: feeName, amount: '9.99', trigger: 'PLAN_CHANGE' }];
    return doc;
  };

  it('is reported by validatePlan at /oneOffFees/<i>/name with a message and a code, and the plan is not published', async () => {
    const doc = plan('Plan change administration fee, covering the number port, a new contract and the welcome pack '.repeat(3).slice(0, 200));
    const at = `/oneOffFees/${doc.oneOffFees.length - 1}/name`;
    const r = await svc.request(VALIDATE, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(r.data.validatePlan.valid).toBe(false);
    expect(r.data.validatePlan.problems).toEqual([{ pointer: at, code: 'FEE_NAME_TOO_LONG', message: expect.stringContaining(`at most ${ONE_OFF_DESCRIPTION_MAX}`) }]);
    expect(r.data.validatePlan.problems[0].message).toContain('Shorten the name to at most 193 characters');
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect(imported.errors?.[0]?.message).toContain(at);
  });

  it('a name that fits is valid', async () => {
    const r = await svc.request(VALIDATE, { d: plan('Plan change fee') });
    expect(r.data.validatePlan).toEqual({ valid: true, problems: [] });
  });
});
