/**
 * A rate rule's `unit` against the usage it rates (brief catalogrules, 2026-11-30). Usage counts a
 * record's quantity in the unit of its usage type (seconds for VOICE, messages for SMS and MMS, MB
 * for DATA, items for CONTENT: usage's UNIT_OF), and rating prices that quantity in the rule's
 * `unit` as it is: nothing converts. The validator never compared the two, so a rule with
 * "unit": "MESSAGE" firing for VOICE charged a 300 s call as 300 messages (and took them from a
 * MESSAGE bucket). Now each such rule is UNIT_NOT_FOR_USAGE_TYPE at its `…/event/params/unit`,
 * naming the usage types its conditions let through and the unit each is counted in. The usage types
 * a rule can fire for are found by evaluating its conditions, as the tariff-overlap analysis does.
 * Authoring-only, as every check added after versions were published: a version published before it
 * keeps rating as published, with the warning.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../engine/compile-plan';
import type { OfferDocument, PlanDocument, PlanRule, RateParams } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const catalogPath = (path: string) => fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url));
const read = <T>(path: string): T => JSON.parse(readFileSync(catalogPath(path), 'utf8')) as T;
const offers = readdirSync(catalogPath('offers')).map((f) => read<OfferDocument>(`offers/${f}`));

function withRule(file: string, name: string): { plan: PlanDocument; i: number; rule: PlanRule; params: RateParams } {
  const plan = read<PlanDocument>(`plans/${file}`);
  const i = plan.rules.findIndex((r) => r.name === name);
  expect(i, `${file} ${name}`).toBeGreaterThanOrEqual(0);
  return { plan, i, rule: plan.rules[i], params: plan.rules[i].event.params as RateParams };
}

const problemsOf = (plan: PlanDocument) => validatePlan(plan, { knownOffers: offers }).problems.map((p) => `${p.pointer} ${p.code}`);

describe("a rate rule's unit against the usage types it rates", () => {
  it('every shipped plan is valid as it is (each failure below comes from its one edit)', () => {
    for (const file of readdirSync(catalogPath('plans'))) {
      expect({ file, problems: problemsOf(read(`plans/${file}`)) }).toEqual({ file, problems: [] });
    }
  });

  it('unit MESSAGE on a VOICE rule is reported at the rule\'s unit, naming SECOND', () => {
    const { plan, i, params } = withRule('postpaid-20gb.json', 'roaming-world-voice');
    params.unit = 'MESSAGE';
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.valid).toBe(false);
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`/rules/${i}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    const [problem] = report.problems;
    expect(problem.authoringOnly).toBe(true);
    expect(problem.message).toContain('"roaming-world-voice"');
    expect(problem.message).toContain('VOICE is counted in SECOND');
    expect(problem.message).toMatch(/"unit": "SECOND"/);
  });

  it('unit SECOND on a rule for SMS and MMS names both, and MESSAGE', () => {
    const { plan, i, params } = withRule('prepaid-payg.json', 'incoming-messages-free');
    params.unit = 'SECOND';
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`/rules/${i}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    expect(report.problems[0].message).toContain('SMS and MMS are counted in MESSAGE');
  });

  it('unit MB on a messages rule consuming a MESSAGE allowance: UNIT_MISMATCH and UNIT_NOT_FOR_USAGE_TYPE (two mistakes)', () => {
    const { plan, i, params } = withRule('postpaid-20gb.json', 'messages-unlimited');
    params.unit = 'MB';
    expect(problemsOf(plan)).toEqual([`/rules/${i}/event/params/unit UNIT_MISMATCH`, `/rules/${i}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`]);
  });

  it('a rule whose conditions do not pin the usage type (a catch-all, a "not") is reported for each usage type of another unit', () => {
    const plan = read<PlanDocument>('plans/prepaid-payg.json');
    plan.rules.push({
      name: 'catch-all-per-second', priority: 1,
      conditions: { all: [{ fact: 'direction', operator: 'equal', value: 'OUTGOING' }] },
      event: { type: 'rate', params: { unit: 'SECOND', pricePerUnit: '0.01' } },
    } as PlanRule);
    plan.rules.push({
      name: 'anything-but-data', priority: 2,
      conditions: { not: { fact: 'usageType', operator: 'equal', value: 'DATA' } },
      event: { type: 'rate', params: { unit: 'MESSAGE', pricePerUnit: '0.01' } },
    } as PlanRule);
    const report = validatePlan(plan, { knownOffers: offers });
    const n = plan.rules.length;
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`/rules/${n - 2}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`, `/rules/${n - 1}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    expect(report.problems[0].message).toContain('SMS and MMS are counted in MESSAGE, DATA in MB, CONTENT in ITEM');
    expect(report.problems[1].message).toContain('VOICE is counted in SECOND, CONTENT in ITEM');
  });

  it('a rule that can only fire for usage of its unit is fine, however its conditions say it', () => {
    const plan = read<PlanDocument>('plans/prepaid-payg.json');
    plan.rules.push({
      name: 'messages-anywhere', priority: 3,
      conditions: { any: [
        { all: [{ fact: 'usageType', operator: 'in', value: ['SMS', 'MMS', 'VOICE'] }, { fact: 'usageType', operator: 'notEqual', value: 'VOICE' }] },
        { not: { fact: 'usageType', operator: 'notIn', value: ['MMS'] } },
      ] },
      event: { type: 'rate', params: { unit: 'MESSAGE', pricePerUnit: '0.05' } },
    } as PlanRule);
    expect(problemsOf(plan)).toEqual([]);
  });

  it('a version published before the check keeps rating as published, with the warning', () => {
    const { plan, i, params } = withRule('prepaid-payg.json', 'voice-national');
    params.unit = 'MESSAGE';
    expect(() => compilePlan(plan, { version: '3', knownOffers: offers })).not.toThrow();
    const report = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: report.valid, warnings: (report.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: [`/rules/${i}/event/params/unit UNIT_NOT_FOR_USAGE_TYPE`] });
  });
});
