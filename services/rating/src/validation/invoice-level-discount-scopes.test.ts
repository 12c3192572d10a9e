/**
 * `discount` rules with scope USAGE and RECURRING: invoicing applies them (services/invoicing
 * `planRuleDiscounts`: off the usage charges, off the plan's recurring fees, for the days the plan
 * was held), so the catalog accepts them with the shape invoicing reads (percent or amount, label;
 * no validity) and refuses the rest at its JSON pointer. Rating leaves the event's price alone, as
 * for INVOICE scope. Invoicing decides them from `lineCount` comparisons only: other conditions are
 * refused when authoring (they would never be what the invoice applies).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument, PlanRule } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = [read<OfferDocument>('offers/data-boost-5gb.json'), read<OfferDocument>('offers/roam-world-pass-7d.json')];
const anyLine = { all: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 1 }] };

const loyaltyFee: PlanRule = { name: 'loyalty-fee', conditions: anyLine, event: { type: 'discount', params: { percent: '10', scope: 'RECURRING', label: 'Loyalty: 10% off the monthly fee' } } };
const loyaltyUsage: PlanRule = { name: 'loyalty-usage', conditions: anyLine, event: { type: 'discount', params: { amount: '5.00', scope: 'USAGE', label: 'Loyalty: 5.00 off usage' } } };

/** Postpaid 20 GB with the given rules appended; returns the plan and the index of the first one. */
function withRules(...rules: unknown[]): { plan: PlanDocument; at: number } {
  const plan = read<PlanDocument>('plans/postpaid-20gb.json');
  const at = plan.rules.length;
  plan.rules.push(...(rules as PlanRule[]));
  return { plan, at };
}
const problemsOf = (plan: unknown) => validatePlan(plan, { knownOffers }).problems.map(({ pointer, code }) => ({ pointer, code }));
const discount = (params: Record<string, unknown>, conditions: unknown = anyLine) => ({ name: 'loyalty', conditions, event: { type: 'discount', params } });

describe('discount rules with scope USAGE and RECURRING', () => {
  it('are valid plan rules, percent or amount, like INVOICE', () => {
    const { plan } = withRules(loyaltyFee, loyaltyUsage, { ...loyaltyFee, name: 'loyalty-invoice', event: { type: 'discount', params: { amount: '1.00', scope: 'INVOICE' } } });
    expect(validatePlan(plan, { knownOffers })).toEqual({ valid: true, problems: [] });
  });

  it('leave the event price alone at rating time and are listed with nothing applied, as INVOICE scope is', async () => {
    const { plan } = withRules(loyaltyFee, loyaltyUsage);
    const compiled = compilePlan(plan, { version: '1', knownOffers });
    const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE', lineCount: 1, allowanceUsedRatios: { data: '0.2' } };
    const call: UsageEvent = { id: 'e1', usageType: 'VOICE', direction: 'OUTGOING', quantity: '61', occurredAt: '2025-03-14T10:00:00Z', calledNumber: '+4930123456' };
    const result = await ratePlain(compiled, call, ctx);
    expect(result).toMatchObject({ decision: 'RATED', basePrice: '0.091500', price: '0.091500' });
    expect(result.adjustments).toEqual([
      { rule: 'loyalty-fee', kind: 'DISCOUNT', scope: 'RECURRING', percent: '10', applied: '0.000000', label: 'Loyalty: 10% off the monthly fee' },
      { rule: 'loyalty-usage', kind: 'DISCOUNT', scope: 'USAGE', amount: '5.00', applied: '0.000000', label: 'Loyalty: 5.00 off usage' },
    ]);
  });

  it('reports a wrong shape at its JSON pointer: both or neither of percent/amount, a validity invoicing does not read, a bad percent, an unknown scope', () => {
    const { plan, at } = withRules(
      discount({ percent: '10', amount: '1.00', scope: 'RECURRING' }),
      { ...discount({ scope: 'USAGE' }), name: 'no-value' },
      { ...discount({ percent: '10', scope: 'RECURRING', validity: { months: 3 } }), name: 'first-three-months' },
      { ...discount({ percent: '110', scope: 'USAGE' }), name: 'too-much' },
      { ...discount({ percent: '10', scope: 'RECURRING_FEE' }), name: 'alias' },
    );
    expect(problemsOf(plan)).toEqual([
      { pointer: `/rules/${at}/event/params`, code: 'INVALID_EVENT_PARAMS' },
      { pointer: `/rules/${at + 1}/event/params`, code: 'INVALID_EVENT_PARAMS' },
      { pointer: `/rules/${at + 2}/event/params/validity`, code: 'INVALID_EVENT_PARAMS' },
      { pointer: `/rules/${at + 3}/event/params/percent`, code: 'INVALID_DECIMAL' },
      { pointer: `/rules/${at + 4}/event/params/scope`, code: 'INVALID_EVENT_PARAMS' },
    ]);
    const message = (pointer: string) => validatePlan(plan, { knownOffers }).problems.find((p) => p.pointer === pointer)!.message;
    expect(message(`/rules/${at}/event/params`)).toBe('A discount or surcharge needs exactly one of "percent" or "amount".');
    expect(message(`/rules/${at + 4}/event/params/scope`)).toContain('EVENT, INVOICE, USAGE, RECURRING');
  });

  it('are for discounts only: a USAGE or RECURRING surcharge is refused at /scope (invoicing reads no surcharges)', () => {
    const { plan, at } = withRules({ name: 'fee-up', conditions: anyLine, event: { type: 'surcharge', params: { percent: '5', scope: 'RECURRING' } } });
    expect(problemsOf(plan)).toEqual([{ pointer: `/rules/${at}/event/params/scope`, code: 'INVALID_EVENT_PARAMS' }]);
  });

  it('are money on the invoice: an amount finer than the currency minor unit is AMOUNT_PRECISION', () => {
    const { plan, at } = withRules({ ...loyaltyUsage, event: { type: 'discount', params: { amount: '4.995', scope: 'USAGE' } } });
    expect(problemsOf(plan)).toEqual([{ pointer: `/rules/${at}/event/params/amount`, code: 'AMOUNT_PRECISION' }]);
  });

  it('are decided by invoicing from lineCount comparisons in a flat all/any: other conditions are refused when authoring, at their pointer', () => {
    const { plan, at } = withRules(
      { ...discount({ percent: '10', scope: 'RECURRING' }, { all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }] }), name: 'per-event-fact' },
      { ...discount({ percent: '10', scope: 'USAGE' }, { any: [{ fact: 'lineCount', operator: 'in', value: [4, 5] }, { all: [{ fact: 'lineCount', operator: 'greaterThan', value: 5 }] }] }), name: 'list-and-group' },
      { ...discount({ amount: '2.00', scope: 'INVOICE' }, { not: { fact: 'lineCount', operator: 'greaterThan', value: 3 } }), name: 'negated' },
      // EVENT scope is rating's: per-event facts are what it is for.
      { ...discount({ percent: '10', scope: 'EVENT' }, { all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }] }), name: 'event-scope' },
    );
    const report = validatePlan(plan, { knownOffers });
    expect(report.problems.map(({ pointer, code, authoringOnly }) => ({ pointer, code, authoringOnly }))).toEqual([
      { pointer: `/rules/${at}/conditions/all/0/fact`, code: 'FACT_NOT_ALLOWED_HERE', authoringOnly: true },
      { pointer: `/rules/${at + 1}/conditions/any/0/operator`, code: 'OPERATOR_NOT_ALLOWED', authoringOnly: true },
      { pointer: `/rules/${at + 1}/conditions/any/1`, code: 'INVALID_CONDITION', authoringOnly: true },
      { pointer: `/rules/${at + 2}/conditions/not`, code: 'INVALID_CONDITION', authoringOnly: true },
    ]);
    expect(report.valid).toBe(false);
    // Rating can still rate such a version (a published one keeps compiling): warnings only.
    expect(validatePlan(plan, { knownOffers, mode: 'rating' })).toMatchObject({ valid: true, problems: [] });
  });

  it('hold for INVOICE surcharges too (invoicing bills them from lineCount alone), not for EVENT ones', () => {
    const surcharge = (name: string, scope: string, conditions: unknown) => ({ name, conditions, event: { type: 'surcharge', params: { percent: '2', scope, label: 'Regulatory fee' } } });
    const { plan, at } = withRules(
      surcharge('by-time', 'INVOICE', { all: [{ fact: 'timeBand', operator: 'equal', value: 'PEAK' }] }),
      surcharge('negated', 'INVOICE', { not: { fact: 'lineCount', operator: 'greaterThan', value: 3 } }),
      surcharge('fine', 'INVOICE', { any: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 1 }] }),
      surcharge('event-scope', 'EVENT', { all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }] }),
    );
    const report = validatePlan(plan, { knownOffers });
    expect(report.problems.map(({ pointer, code, authoringOnly }) => ({ pointer, code, authoringOnly }))).toEqual([
      { pointer: `/rules/${at}/conditions/all/0/fact`, code: 'FACT_NOT_ALLOWED_HERE', authoringOnly: true },
      { pointer: `/rules/${at + 1}/conditions/not`, code: 'INVALID_CONDITION', authoringOnly: true },
    ]);
    expect(report.problems[0].message).toContain('invoice-level surcharge');
  });
});
