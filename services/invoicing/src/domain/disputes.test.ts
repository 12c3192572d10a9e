import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assess, assessmentFacts, checkDisputeRules, parseDisputeRules } from './disputes';

const shipped = fs.readFileSync(new URL('../../../../catalog/disputes/auto-assessment.json', import.meta.url), 'utf8');

describe('dispute auto-assessment rules', () => {
  it('the shipped file is valid', () => {
    expect(checkDisputeRules(JSON.parse(shipped))).toEqual([]);
  });

  it('a bad file names the JSON pointer of each problem', () => {
    const bad = {
      reviewDueHours: 1.5,
      rules: [
        { name: 'float', conditions: { all: [{ fact: 'amountMinor', operator: 'lessThan', value: 5.5 }] }, event: { type: 'ACCEPT' } },
        { name: 'float', conditions: { any: [{ fact: 'colour', operator: 'equal', value: 'red' }, { fact: 'target', operator: 'greaterThan', value: 'LINE' }] }, event: { type: 'REJECT' } },
        { name: 'ok-2', conditions: { fact: 'lineKind', operator: 'in', value: ['LATE_FEE', 'FEE'] }, event: { type: 'ACCEPT' } },
      ],
    };
    expect(checkDisputeRules(bad).map((p) => p.pointer)).toEqual([
      '/reviewDueHours',
      '/rules/0/conditions/all/0/value',
      '/rules/1/name',
      '/rules/1/event',
      '/rules/1/conditions/any/0/fact',
      '/rules/1/conditions/any/1/operator',
      '/rules/2/conditions',
    ]);
    expect(() => parseDisputeRules(JSON.stringify(bad), 'auto-assessment.json')).toThrow(/\/rules\/0\/conditions\/all\/0\/value: amountMinor is an exact integer/);
    expect(() => parseDisputeRules('{', 'auto-assessment.json')).toThrow(/not valid JSON/);
  });

  it('facts are exact integers; the highest-priority accepting rule wins, none: REVIEW', async () => {
    const rules = parseDisputeRules(shipped, 'shipped');
    const facts = assessmentFacts({ amount: '3.33', invoiceTotal: '35.69', currency: 'EUR', target: 'LINE', lineKind: 'LATE_FEE', acceptedDisputesLast365Days: 0 });
    expect(facts).toEqual({ amountMinor: 333, invoiceTotalMinor: 3569, disputedBasisPoints: 933, target: 'LINE', lineKind: 'LATE_FEE', acceptedDisputesLast365Days: 0 });
    expect(await assess(rules, facts)).toMatchObject({ decision: 'ACCEPT', rule: 'first-late-fee-waived' });
    expect(await assess(rules, { ...facts, acceptedDisputesLast365Days: 1 })).toMatchObject({ decision: 'ACCEPT', rule: 'small-goodwill' });
    expect(await assess(rules, { ...facts, acceptedDisputesLast365Days: 2 })).toEqual({ decision: 'REVIEW', rule: null, facts: { ...facts, acceptedDisputesLast365Days: 2 } });
    expect(await assess(rules, { ...facts, lineKind: null, amountMinor: 501 })).toMatchObject({ decision: 'REVIEW' });
  });
});
