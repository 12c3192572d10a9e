import { describe, expect, it } from 'vitest';
import { planRuleDiscounts, planRuleSurcharges, type PlanDoc } from './plans';

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

  it('applies no rule whose conditions it cannot read (a top-level not, a nested group): never a discount for every account', () => {
    const doc = plan([
      { name: 'not-single', conditions: { not: { fact: 'lineCount', operator: 'equal', value: 1 } }, event: { type: 'discount', params: { percent: '10', scope: 'RECURRING' } } },
      { name: 'leaf-on-top', conditions: { fact: 'lineCount', operator: 'equal', value: 2 }, event: { type: 'discount', params: { percent: '10', scope: 'RECURRING' } } },
      rule('nested', { percent: '10', scope: 'INVOICE' }, [{ any: [{ fact: 'lineCount', operator: 'equal', value: 1 }] }]),
    ]);
    for (const lineCount of [1, 2, 3]) expect(planRuleDiscounts(doc, { lineCount })).toEqual([]);
  });

  it('surcharges: INVOICE-scope rules whose lineCount conditions hold; EVENT ones are rating’s, another fact or shape never applies', () => {
    const surcharge = (name: string, params: Record<string, unknown>, all: unknown[] = []) => ({ name, conditions: { all }, event: { type: 'surcharge', params } });
    const doc = plan([
      surcharge('regulatory', { percent: '2', scope: 'INVOICE', label: 'Regulatory fee' }),
      surcharge('multi-line', { amount: '5.00', scope: 'INVOICE' }, [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 2 }]),
      surcharge('peak', { amount: '0.10', scope: 'EVENT' }),
      surcharge('night', { percent: '5', scope: 'INVOICE' }, [{ fact: 'timeBand', operator: 'equal', value: 'NIGHT' }]),
      { name: 'not-single', conditions: { not: { fact: 'lineCount', operator: 'equal', value: 1 } }, event: { type: 'surcharge', params: { amount: '1.00', scope: 'INVOICE' } } },
    ]);
    expect(planRuleSurcharges(doc, { lineCount: 1 })).toEqual([{ code: 'PLAN:FAMILY:regulatory', rule: 'regulatory', description: 'Regulatory fee', percent: '2', amount: null, taxCategory: 'TELECOM_STANDARD' }]);
    expect(planRuleSurcharges(doc, { lineCount: 2 }).map((s) => [s.rule, s.percent, s.amount])).toEqual([
      ['regulatory', '2', null],
      ['multi-line', null, '5'],
    ]);
  });
});
