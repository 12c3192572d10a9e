import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assess, assessmentFacts, checkDisputeRules, decidedByFor, parseDisputeRules } from './disputes';

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
    expect(facts).toEqual({ amountMinor: 333, invoiceTotalMinor: 3569, disputedBasisPoints: 933, currency: 'EUR', target: 'LINE', lineKind: 'LATE_FEE', acceptedDisputesLast365Days: 0 });
    expect(await assess(rules, facts)).toMatchObject({ decision: 'ACCEPT', rule: 'first-late-fee-waived' });
    expect(await assess(rules, { ...facts, acceptedDisputesLast365Days: 1 })).toMatchObject({ decision: 'ACCEPT', rule: 'small-goodwill' });
    expect(await assess(rules, { ...facts, acceptedDisputesLast365Days: 2 })).toEqual({ decision: 'REVIEW', rule: null, facts: { ...facts, acceptedDisputesLast365Days: 2 } });
    expect(await assess(rules, { ...facts, lineKind: null, amountMinor: 501 })).toMatchObject({ decision: 'REVIEW' });
  });

  it('small goodwill is 5.00 in EUR, USD, GBP and CHF and 500 yen; 500 minor units of another currency go to review', async () => {
    const rules = parseDisputeRules(shipped, 'shipped');
    const goodwill = (amount: string, currency: string) => assess(rules, assessmentFacts({ amount, invoiceTotal: '9000', currency, target: 'INVOICE', lineKind: null, acceptedDisputesLast365Days: 0 }));
    for (const currency of ['EUR', 'USD', 'GBP', 'CHF']) {
      expect(await goodwill('5.00', currency), currency).toMatchObject({ decision: 'ACCEPT', rule: 'small-goodwill', facts: { amountMinor: 500, currency } });
      expect(await goodwill('5.01', currency), currency).toMatchObject({ decision: 'REVIEW' });
    }
    expect(await goodwill('500', 'JPY')).toMatchObject({ decision: 'ACCEPT', rule: 'small-goodwill-jpy', facts: { amountMinor: 500, currency: 'JPY' } });
    expect(await goodwill('501', 'JPY')).toMatchObject({ decision: 'REVIEW' });
    // 0.500 BHD and 500 SEK (about 45 EUR): no rule of theirs, an agent looks.
    expect(await goodwill('0.500', 'BHD')).toMatchObject({ decision: 'REVIEW', facts: { amountMinor: 500, currency: 'BHD' } });
    expect(await goodwill('5.00', 'SEK')).toMatchObject({ decision: 'REVIEW' });
  });

  it('currency is an ISO code string: equal/notEqual/in/notIn on known codes only', () => {
    const rule = (conditions: unknown) => ({ rules: [{ name: 'r', conditions, event: { type: 'ACCEPT' } }] });
    expect(checkDisputeRules(rule({ all: [{ fact: 'currency', operator: 'in', value: ['EUR', 'JPY'] }] }))).toEqual([]);
    expect(checkDisputeRules(rule({ all: [{ fact: 'currency', operator: 'notEqual', value: 'BHD' }] }))).toEqual([]);
    expect(checkDisputeRules(rule({ all: [{ fact: 'currency', operator: 'in', value: ['EUR', 'eur', 'EURO', 'XYZ', 5] }] })).map((p) => p.pointer)).toEqual([
      '/rules/0/conditions/all/0/value/1',
      '/rules/0/conditions/all/0/value/2',
      '/rules/0/conditions/all/0/value/3',
      '/rules/0/conditions/all/0/value/4',
    ]);
    expect(checkDisputeRules(rule({ all: [{ fact: 'currency', operator: 'lessThan', value: 'EUR' }] }))).toEqual([
      { pointer: '/rules/0/conditions/all/0/operator', message: 'lessThan compares numbers; currency is a string' },
    ]);
    expect(checkDisputeRules(rule({ all: [{ fact: 'currency', operator: 'equal', value: null }] })).map((p) => p.pointer)).toEqual(['/rules/0/conditions/all/0/value']);
  });
});

describe('decidedByFor (who decided is staff\'s)', () => {
  const customer = { staff: false, subject: 'cus_1' };
  it('staff see it as stored; a customer sees how it closed and their own subject, else null', () => {
    expect(decidedByFor('agent-7', { staff: true, subject: 'agent-1' })).toBe('agent-7');
    for (const how of ['auto:small-goodwill', 'rerate:usg_1:rerate:2', 'creditNote:CN-1', 'regenerateInvoice', 'resolveDispute']) expect(decidedByFor(how, customer), how).toBe(how);
    for (const who of ['agent-7', 'resolveDispute:agent-7', 'worker', 'automatic']) expect(decidedByFor(who, customer), who).toBeNull();
    expect(decidedByFor('cus_1', customer)).toBe('cus_1');
    expect(decidedByFor(null, customer)).toBeNull();
  });
});
