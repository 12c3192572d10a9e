import { describe, expect, it } from 'vitest';
import { planRuleDiscounts, type PlanDoc } from './plans';

const plan = (rules: unknown[]): PlanDoc => ({ code: 'FAMILY', name: 'Family', taxCategory: 'TELECOM_STANDARD', rules: rules as PlanDoc['rules'] });
const rule = (name: string, params: Record<string, unknown>, all: unknown[] = []) => ({ name, conditions: { all }, event: { type: 'discount', params } });

describe('planRuleDiscounts', () => {
  it('takes the invoice-level discount rules whose account conditions hold, and leaves per-record ones to rating', () => {
    const doc = plan([
      rule('big-family', { percent: '10', scope: 'USAGE', label: '4+ lines: 10% off usage' }, [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 4 }]),
      rule('loyalty', { amount: '2.50', scope: 'INVOICE', label: 'Loyalty' }),
      rule('per-record', { percent: '50', scope: 'EVENT' }),
      rule('night', { percent: '20', scope: 'INVOICE' }, [{ fact: 'timeBand', operator: 'equal', value: 'NIGHT' }]),
      { name: 'a-rate', event: { type: 'rate', params: { pricePerUnit: '0.01' } } },
    ]);
    expect(planRuleDiscounts(doc, { lineCount: 3 })).toEqual([{ code: 'PLAN:FAMILY:loyalty', description: 'Loyalty', percent: null, amount: '2.5', target: 'INVOICE' }]);
    expect(planRuleDiscounts(doc, { lineCount: 4 }).map((d) => [d.code, d.target, d.percent])).toEqual([
      ['PLAN:FAMILY:big-family', 'USAGE', '10'],
      ['PLAN:FAMILY:loyalty', 'INVOICE', null],
    ]);
  });
});
