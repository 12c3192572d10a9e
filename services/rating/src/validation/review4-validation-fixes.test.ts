/**
 * Follow-ups of review 4 beyond the reviewer's own tests: amounts finer than the currency's minor
 * unit, currencies the platform cannot bill, empty condition lists and leaf/group mixes anywhere in
 * a plan (nested, in eligibility), and the validator's model of the engine (evaluateCondition,
 * leavesOf) agreeing with json-rules-engine on what still reaches it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateCondition, leavesOf } from '../domain/conditions';
import type { Condition, OfferDocument, PlanDocument, PlanRule } from '../domain/plan-types';
import { SerialEngine } from '../engine/serial-engine';
import { validateOffer, validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const postpaid = (): PlanDocument => read<PlanDocument>('plans/postpaid-20gb.json');
const payg = (): PlanDocument => read<PlanDocument>('plans/prepaid-payg.json');
const knownOffers = [read<OfferDocument>('offers/data-boost-5gb.json'), read<OfferDocument>('offers/roam-world-pass-7d.json')];

function problemsOf(plan: PlanDocument) {
  return validatePlan(plan, { knownOffers }).problems.map(({ pointer, code }) => ({ pointer, code }));
}

describe('amounts finer than the currency minor unit', () => {
  it('reports a JPY fee with fractional yen at its pointer, and accepts whole yen (trailing zeros are fine)', () => {
    const plan = { ...postpaid(), currency: 'JPY' };
    plan.recurringFee = { ...plan.recurringFee!, amount: '100.5' };
    plan.oneOffFees = [{ ...plan.oneOffFees![0], amount: '3000.00' }, { ...plan.oneOffFees![1], amount: '1500' }];
    plan.balancePolicy = { overdraftAllowed: false, creditLimitHint: '15000.01' };
    const problems = problemsOf(plan);
    expect(problems).toContainEqual({ pointer: '/recurringFee/amount', code: 'AMOUNT_PRECISION' });
    expect(problems).toContainEqual({ pointer: '/balancePolicy/creditLimitHint', code: 'AMOUNT_PRECISION' });
    expect(problems.filter((p) => p.code === 'AMOUNT_PRECISION')).toHaveLength(2);
    const message = validatePlan(plan, { knownOffers }).problems.find((p) => p.pointer === '/recurringFee/amount')!.message;
    expect(message).toContain('JPY amounts have no decimals');
  });

  it('reports EUR amounts below a cent (fees, add-on prices, committed spend), not sub-cent usage prices', () => {
    const plan = postpaid();
    plan.oneOffFees![1].amount = '14.995';
    const bundle = read<PlanDocument>('plans/prepaid-bundle-30d.json');
    bundle.addOns![0].price = '1.999';
    expect(problemsOf(plan)).toEqual([{ pointer: '/oneOffFees/1/amount', code: 'AMOUNT_PRECISION' }]);
    expect(problemsOf(bundle)).toEqual([{ pointer: '/addOns/0/price', code: 'AMOUNT_PRECISION' }]);
    const enterprise = read<PlanDocument>('plans/enterprise-committed-spend-usd.json');
    enterprise.committedSpend = { ...enterprise.committedSpend!, threshold: '100.001' };
    expect(problemsOf(enterprise)).toEqual([{ pointer: '/committedSpend/threshold', code: 'AMOUNT_PRECISION' }]);
    // Usage prices stay sub-cent (rounded once per invoice line): the sample plans use "0.0015".
    expect(problemsOf(postpaid())).toEqual([]);
  });

  it('follows ISO 4217 exponents: three decimals are fine in KWD, an invoice-level discount is money too', () => {
    const plan = { ...postpaid(), currency: 'KWD' };
    plan.recurringFee = { ...plan.recurringFee!, amount: '9.995' };
    expect(problemsOf(plan)).toEqual([]);
    const rule: PlanRule = { name: 'loyalty-credit', conditions: { all: [{ fact: 'lineCount', operator: 'greaterThan', value: 0 }] }, event: { type: 'discount', params: { amount: '1.5', scope: 'INVOICE' } } };
    const jpy = { ...payg(), currency: 'JPY', oneOffFees: [], rules: [...payg().rules, rule] };
    // (A prepaid plan has no invoice to apply it to either: SCOPE_NOT_BILLED.)
    expect(problemsOf(jpy)).toEqual([
      { pointer: `/rules/${jpy.rules.length - 1}/event/params/amount`, code: 'AMOUNT_PRECISION' },
      { pointer: `/rules/${jpy.rules.length - 1}/event/params/scope`, code: 'SCOPE_NOT_BILLED' },
    ]);
  });

  it('checks an offer price the same way', () => {
    const offer = { ...knownOffers[0], currency: 'JPY', price: '500.5' };
    expect(validateOffer(offer).problems.map(({ pointer, code }) => ({ pointer, code }))).toEqual([{ pointer: '/price', code: 'AMOUNT_PRECISION' }]);
    expect(validateOffer({ ...offer, price: '500' }).valid).toBe(true);
  });
});

describe('currencies', () => {
  it('accepts every currency the money code can round (CAD, CZK) and refuses test, metal and withdrawn codes at /currency', () => {
    expect(problemsOf({ ...postpaid(), currency: 'CAD' })).toEqual([]);
    expect(validateOffer({ ...knownOffers[0], currency: 'CZK' }).valid).toBe(true);
    for (const currency of ['XXX', 'XAU', 'HRK']) {
      expect(problemsOf({ ...postpaid(), currency })).toEqual([{ pointer: '/currency', code: 'UNKNOWN_CURRENCY' }]);
      expect(validateOffer({ ...knownOffers[0], currency }).problems.map((p) => p.pointer)).toEqual(['/currency']);
    }
  });
});

describe('condition nodes the engine reads differently', () => {
  const sms = { fact: 'usageType', operator: 'equal', value: 'SMS' };

  it('reports an empty all/any list wherever it is: nested, or in eligibility', () => {
    const plan = payg();
    plan.rules.push({ name: 'deny-nested-empty', priority: 100, conditions: { all: [sms, { any: [] }] }, event: { type: 'deny', params: { reason: 'BARRED_X' } } } as PlanRule);
    plan.eligibility = { conditions: { all: [] } };
    expect(problemsOf(plan)).toEqual([
      { pointer: '/eligibility/conditions/all', code: 'INVALID_CONDITION' },
      { pointer: `/rules/${plan.rules.length - 1}/conditions/all/1/any`, code: 'INVALID_CONDITION' },
    ]);
  });

  it('reports a node mixing leaf keys with a group key (also "not", and a group with a stray "value")', () => {
    const plan = payg();
    const first = plan.rules.length;
    plan.rules.push({ name: 'mixed-not', priority: 100, conditions: { any: [{ ...sms, not: sms }] }, event: { type: 'deny', params: { reason: 'BARRED_X' } } } as unknown as PlanRule);
    plan.rules.push({ name: 'mixed-value', priority: 100, conditions: { not: { all: [sms], value: 'SMS' } }, event: { type: 'deny', params: { reason: 'BARRED_Y' } } } as unknown as PlanRule);
    expect(problemsOf(plan)).toEqual([
      { pointer: `/rules/${first}/conditions/any/0`, code: 'INVALID_CONDITION' },
      { pointer: `/rules/${first + 1}/conditions/not`, code: 'INVALID_CONDITION' },
    ]);
  });

  it('evaluateCondition and leavesOf read nodes as json-rules-engine does: empty lists hold, group keys win over leaf keys', async () => {
    const conditions: Condition[] = [
      { any: [] },
      { all: [] },
      { not: { any: [] } },
      { all: [sms, { any: [] }] },
      { all: [{ ...sms, any: [{ fact: 'direction', operator: 'equal', value: 'INCOMING' }] } as unknown as Condition] },
      { any: [{ ...sms, all: [{ fact: 'direction', operator: 'equal', value: 'OUTGOING' }] } as unknown as Condition] },
    ];
    const facts = { usageType: 'VOICE', direction: 'OUTGOING' };
    for (const condition of conditions) {
      const engine = new SerialEngine([{ name: 'r', conditions: structuredClone(condition) as never, event: { type: 'hit' } }]);
      const fired = (await engine.run({ ...facts })).length > 0;
      expect([condition, evaluateCondition(condition, facts)]).toEqual([condition, fired]);
    }
    // The facts a mixed node makes the engine read are its group's, not its own leaf's.
    expect(leavesOf(conditions[4]).map(({ leaf, pointer }) => [leaf.fact, pointer])).toEqual([['direction', '/all/0/any/0']]);
  });
});
