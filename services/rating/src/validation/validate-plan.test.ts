import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PlanDocument } from '../domain/plan-types';
import { validateOffer, validatePlan } from './validate-plan';

const SAMPLE = fileURLToPath(new URL('../../../../catalog/plans/prepaid-payg.json', import.meta.url));
const base = (): PlanDocument => JSON.parse(readFileSync(SAMPLE, 'utf8'));
const ruleIndex = (plan: PlanDocument, name: string) => plan.rules.findIndex((rule) => rule.name === name);

function problemsOf(plan: unknown) {
  const report = validatePlan(plan);
  expect(report.valid).toBe(false);
  return report.problems;
}

describe('validatePlan', () => {
  it('accepts the unchanged sample plan (so every failure below comes from the one edit)', () => {
    expect(validatePlan(base())).toEqual({ valid: true, problems: [] });
  });

  it('reports invalid JSON at the document with line and column', () => {
    const problems = problemsOf('{\n  "code": "X",\n  "name": }');
    expect(problems).toHaveLength(1);
    expect(problems[0].pointer).toBe('');
    expect(problems[0].code).toBe('INVALID_JSON');
    expect(problems[0].message).toMatch(/line 3, column \d+/);
  });

  it('reports a missing field with its pointer', () => {
    const plan = base() as Partial<PlanDocument>;
    delete plan.currency;
    expect(problemsOf(plan)).toContainEqual(expect.objectContaining({ pointer: '/currency', code: 'MISSING_FIELD' }));
  });

  it('reports an unknown fact, suggesting the closest one', () => {
    const plan = base();
    const i = ruleIndex(plan, 'sms-home');
    (plan.rules[i].conditions as { all: Array<{ fact: string }> }).all[0].fact = 'usagetype';
    const problem = problemsOf(plan).find((p) => p.code === 'UNKNOWN_FACT')!;
    expect(problem.pointer).toBe(`/rules/${i}/conditions/all/0/fact`);
    expect(problem.message).toContain('Did you mean "usageType"');
  });

  it('reports an unknown operator and an operator that does not fit the fact', () => {
    const plan = base();
    const i = ruleIndex(plan, 'sms-home');
    const all = (plan.rules[i].conditions as { all: Array<{ operator: string }> }).all;
    all[0].operator = 'equals';
    all[1].operator = 'greaterThan';
    const problems = problemsOf(plan);
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/conditions/all/0/operator`, code: 'UNKNOWN_OPERATOR' }));
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/conditions/all/1/operator`, code: 'OPERATOR_NOT_ALLOWED' }));
  });

  it('reports a fact value outside the fact domain, including plan-defined zones', () => {
    const plan = base();
    const i = ruleIndex(plan, 'voice-national');
    (plan.rules[i].conditions as { all: Array<{ value: unknown }> }).all[3].value = ['NATIONAL', 'MARS'];
    expect(problemsOf(plan)).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/conditions/all/3/value/1`, code: 'INVALID_FACT_VALUE' }));
  });

  it('reports a negative price and a price written as a JSON number', () => {
    const plan = base();
    const sms = ruleIndex(plan, 'sms-home');
    const mms = ruleIndex(plan, 'mms-outgoing');
    (plan.rules[sms].event.params as { pricePerUnit: unknown }).pricePerUnit = '-0.09';
    (plan.rules[mms].event.params as { pricePerUnit: unknown }).pricePerUnit = 0.39;
    const problems = problemsOf(plan);
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${sms}/event/params/pricePerUnit`, code: 'NEGATIVE_PRICE' }));
    const asNumber = problems.find((p) => p.pointer === `/rules/${mms}/event/params/pricePerUnit`)!;
    expect(asNumber.code).toBe('INVALID_DECIMAL');
    expect(asNumber.message).toContain('in quotes');
  });

  it('reports invalid event params: a rate with neither price nor table, an unknown param, an unknown allowance', () => {
    const plan = base();
    const i = ruleIndex(plan, 'sms-home');
    plan.rules[i].event.params = { unit: 'MESSAGE', allowanceId: 'nope', colour: 'red' } as never;
    const problems = problemsOf(plan);
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/event/params`, code: 'INVALID_EVENT_PARAMS' }));
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/event/params/colour`, code: 'INVALID_EVENT_PARAMS' }));
    expect(problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${i}/event/params/allowanceId`, code: 'UNKNOWN_ALLOWANCE' }));
  });

  it('reports an unknown event type', () => {
    const plan = base();
    (plan.rules[0].event as { type: string }).type = 'block';
    expect(problemsOf(plan)).toContainEqual(expect.objectContaining({ pointer: '/rules/0/event/type', code: 'UNKNOWN_EVENT_TYPE' }));
  });

  it('reports two rate rules that can fire together at the same priority, with an example', () => {
    const plan = base();
    const i = ruleIndex(plan, 'sms-home');
    // A second SMS tariff that overlaps sms-home for outgoing texts at home.
    plan.rules.push({ name: 'sms-cheap', priority: 5, conditions: { all: [{ fact: 'usageType', operator: 'in', value: ['SMS', 'MMS'] }] }, event: { type: 'rate', params: { unit: 'MESSAGE', pricePerUnit: '0.01' } } });
    const problems = problemsOf(plan);
    const ambiguous = problems.filter((p) => p.code === 'AMBIGUOUS_TARIFF');
    expect(ambiguous.map((p) => p.message).join('\n')).toContain(`"sms-home" (/rules/${i}) and "sms-cheap"`);
    expect(ambiguous[0].pointer).toBe(`/rules/${plan.rules.length - 1}`);
    expect(ambiguous[0].message).toMatch(/usageType = "SMS"/);
  });

  it('does not report rules that are exclusive only through numeric thresholds, and does report touching ranges', () => {
    const rate = (name: string, operator: string, value: string) => ({
      name, priority: 5,
      conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'CONTENT' }, { fact: 'allowanceUsedRatio', operator, value }] },
      event: { type: 'rate' as const, params: { unit: 'ITEM' as const, pricePerUnit: '1.00' } },
    });
    const exclusive = base();
    exclusive.rules.push(rate('content-low', 'lessThan', '0.8'), rate('content-high', 'greaterThanInclusive', '0.80'));
    expect(validatePlan(exclusive).problems.filter((p) => p.code === 'AMBIGUOUS_TARIFF')).toEqual([]);
    const touching = base();
    touching.rules.push(rate('content-low', 'lessThanInclusive', '0.8'), rate('content-high', 'greaterThanInclusive', '0.8'));
    const problems = validatePlan(touching).problems.filter((p) => p.code === 'AMBIGUOUS_TARIFF');
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toContain('allowanceUsedRatio = "0.8"');
  });

  it('reports tiers that do not increase or do not end open', () => {
    const plan = base();
    const i = ruleIndex(plan, 'data-home');
    (plan.rules[i].event.params as { priceTable: { tiers: unknown[] } }).priceTable.tiers = [{ upTo: '100', unitPrice: '0.01' }, { upTo: '50', unitPrice: '0.005' }];
    const codes = problemsOf(plan).filter((p) => p.code === 'INVALID_TIERS').map((p) => p.pointer);
    expect(codes).toContain(`/rules/${i}/event/params/priceTable/tiers/1/upTo`);
  });

  it('reports an eligibility-only fact used in a rating rule, and a bad timezone', () => {
    const plan = base();
    plan.timezone = 'Europe/Atlantis';
    (plan.rules[0].conditions as { all: Array<{ fact: string; value: unknown }> }).all[0] = { fact: 'creditClass', operator: 'equal', value: 'A' } as never;
    const problems = problemsOf(plan);
    expect(problems).toContainEqual(expect.objectContaining({ pointer: '/rules/0/conditions/all/0/fact', code: 'FACT_NOT_ALLOWED_HERE' }));
    expect(problems).toContainEqual(expect.objectContaining({ pointer: '/timezone', code: 'INVALID_TIMEZONE' }));
  });

  it('escapes nothing in plain pointers and reports an unknown top-level field', () => {
    const plan = { ...base(), colour: 'red' };
    expect(problemsOf(plan)).toContainEqual(expect.objectContaining({ pointer: '/colour', code: 'UNKNOWN_FIELD' }));
  });
});

describe('validateOffer', () => {
  it('rejects a negative price and a missing validity', () => {
    const report = validateOffer({ code: 'X_PASS', name: 'x', description: 'x', currency: 'EUR', price: '-1', allowances: [{ id: 'a', unit: 'MB', quantity: '1', usageTypes: ['DATA'], validity: 'PERIOD' }], taxCategory: 'TELECOM_STANDARD' });
    expect(report.valid).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ pointer: '/price', code: 'NEGATIVE_PRICE' }));
    expect(report.problems).toContainEqual(expect.objectContaining({ pointer: '/validityDays', code: 'MISSING_FIELD' }));
  });
});
