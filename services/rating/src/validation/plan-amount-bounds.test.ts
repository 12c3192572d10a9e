/**
 * Review (session 33): plan amounts that validated but were then changed or overflowed downstream.
 * - Finer than the ledger: the wallets ledger takes a charge at 6 places, half-even (chargeAmountOf),
 *   and usage stores an event's price as NUMERIC(20,6). A rule rounding at scale 8 (UP) was rated
 *   0.00000001 and charged 0; a pricePerUnit of 0.0000001 went to wallets as "1e-7" (what the
 *   rating result's pricePerUnit printed), which wallets refuses. Authoring now refuses a rounding
 *   scale above 6 (ROUNDING_TOO_FINE) and usage prices with more than 6 decimals (AMOUNT_PRECISION).
 * - No upper bound: a 30-digit pricePerUnit validated, then overflowed usage's NUMERIC(20,6) and was
 *   refused by wallets. Now AMOUNT_TOO_LARGE at the amount's pointer.
 * All authoring-only: a version published before still compiles and rates as it did, with warnings.
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
const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));
const postpaid = () => read<PlanDocument>('plans/postpaid-20gb.json');
const codes = (problems: { pointer: string; code: string }[] | undefined) => (problems ?? []).map(({ pointer, code }) => ({ pointer, code }));
const problemsOf = (plan: PlanDocument) => codes(validatePlan(plan, { knownOffers }).problems);
const ruleIndex = (plan: PlanDocument, name: string) => plan.rules.findIndex((r) => r.name === name);
const params = (plan: PlanDocument, name: string) => plan.rules[ruleIndex(plan, name)].event.params as unknown as Record<string, unknown>;
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
const mmsAbroad: UsageEvent = { id: 'mms-1', usageType: 'MMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678', roamingCountry: 'US' };

describe('a rounding scale finer than the ledger keeps (ROUNDING_TOO_FINE)', () => {
  it('refuses scale 7 to 10 at …/rounding/scale, accepts 2 to 6', () => {
    const plan = postpaid();
    const mms = ruleIndex(plan, 'mms-roaming');
    params(plan, 'mms-roaming').rounding = { mode: 'UP', scale: 8 };
    params(plan, 'roaming-world-sms').rounding = { mode: 'HALF_EVEN', scale: 6 };
    params(plan, 'voice-international').rounding = { mode: 'DOWN', scale: 2 };
    expect(problemsOf(plan)).toEqual([{ pointer: `/rules/${mms}/event/params/rounding/scale`, code: 'ROUNDING_TOO_FINE' }]);
    params(plan, 'mms-roaming').rounding = { mode: 'HALF_UP', scale: 10 };
    const report = validatePlan(plan, { knownOffers });
    expect(codes(report.problems)).toEqual([{ pointer: `/rules/${mms}/event/params/rounding/scale`, code: 'ROUNDING_TOO_FINE' }]);
    expect(report.problems[0].message).toContain('6');
  });

  it('the shipped catalog plans validate clean (the enterprise plan rounds at 6 places)', () => {
    for (const file of ['postpaid-20gb.json', 'prepaid-payg.json', 'prepaid-bundle-30d.json', 'business-pool.json', 'family-share-50gb.json', 'enterprise-committed-spend-usd.json']) {
      expect({ file, problems: problemsOf(read<PlanDocument>(`plans/${file}`)) }).toEqual({ file, problems: [] });
    }
  });
});

describe('usage prices with more decimals than the ledger keeps (AMOUNT_PRECISION)', () => {
  it('reports pricePerUnit, tier unitPrice / flatFee and EVENT adjustment amounts past 6 decimals at their pointers', () => {
    const plan = postpaid();
    params(plan, 'mms-roaming').pricePerUnit = '0.0000001';
    const data = ruleIndex(plan, 'data-allowance');
    const table = params(plan, 'data-allowance').priceTable as { tiers: Array<Record<string, unknown>> };
    table.tiers[0].unitPrice = '0.0100001';
    table.tiers[1].flatFee = '0.5000005';
    const surcharge = ruleIndex(plan, 'roaming-world-surcharge-peak');
    params(plan, 'roaming-world-surcharge-peak').amount = '0.1000001';
    expect(problemsOf(plan)).toEqual([
      { pointer: `/rules/${ruleIndex(plan, 'mms-roaming')}/event/params/pricePerUnit`, code: 'AMOUNT_PRECISION' },
      { pointer: `/rules/${data}/event/params/priceTable/tiers/0/unitPrice`, code: 'AMOUNT_PRECISION' },
      { pointer: `/rules/${data}/event/params/priceTable/tiers/1/flatFee`, code: 'AMOUNT_PRECISION' },
      { pointer: `/rules/${surcharge}/event/params/amount`, code: 'AMOUNT_PRECISION' },
    ]);
  });

  it('accepts 6 decimals, and trailing zeros past them (the same number)', () => {
    const plan = postpaid();
    params(plan, 'mms-roaming').pricePerUnit = '0.000001';
    params(plan, 'roaming-world-sms').pricePerUnit = '0.19000000';
    expect(problemsOf(plan)).toEqual([]);
  });
});

describe('amounts beyond what the columns they land in hold (AMOUNT_TOO_LARGE)', () => {
  it('reports a 30-digit pricePerUnit and unit prices from 10^8 at their pointers; just below is fine', () => {
    const plan = postpaid();
    const mms = ruleIndex(plan, 'mms-roaming');
    const data = ruleIndex(plan, 'data-allowance');
    params(plan, 'mms-roaming').pricePerUnit = '123456789012345678901234567890';
    (params(plan, 'data-allowance').priceTable as { tiers: Array<Record<string, unknown>> }).tiers[0].unitPrice = '100000000';
    params(plan, 'roaming-world-sms').pricePerUnit = '99999999.999999';
    expect(problemsOf(plan)).toEqual([
      { pointer: `/rules/${mms}/event/params/pricePerUnit`, code: 'AMOUNT_TOO_LARGE' },
      { pointer: `/rules/${data}/event/params/priceTable/tiers/0/unitPrice`, code: 'AMOUNT_TOO_LARGE' },
    ]);
  });

  it('reports fees, add-on prices, balance and committed-spend amounts, flat fees and adjustment amounts from 10^12', () => {
    const plan = postpaid();
    plan.recurringFee!.amount = '1000000000000';
    plan.oneOffFees![0].amount = '999999999999.99';
    plan.balancePolicy = { overdraftAllowed: false, creditLimitHint: '50000000000000' };
    const surcharge = ruleIndex(plan, 'roaming-world-surcharge-peak');
    params(plan, 'roaming-world-surcharge-peak').amount = '1000000000000.00';
    const data = ruleIndex(plan, 'data-allowance');
    (params(plan, 'data-allowance').priceTable as { tiers: Array<Record<string, unknown>> }).tiers[0].flatFee = '2000000000000';
    const loyalty: PlanRule = { name: 'loyalty-credit', conditions: { all: [{ fact: 'lineCount', operator: 'greaterThan', value: 0 }] }, event: { type: 'discount', params: { amount: '1000000000000', scope: 'INVOICE' } } };
    plan.rules.push(loyalty);
    const bundle = read<PlanDocument>('plans/prepaid-bundle-30d.json');
    bundle.addOns![0].price = '1000000000000';
    const enterprise = read<PlanDocument>('plans/enterprise-committed-spend-usd.json');
    enterprise.committedSpend = { ...enterprise.committedSpend!, budget: '1000000000000' };
    expect(problemsOf(plan)).toEqual([
      { pointer: '/recurringFee/amount', code: 'AMOUNT_TOO_LARGE' },
      { pointer: '/balancePolicy/creditLimitHint', code: 'AMOUNT_TOO_LARGE' },
      { pointer: `/rules/${plan.rules.length - 1}/event/params/amount`, code: 'AMOUNT_TOO_LARGE' },
      { pointer: `/rules/${data}/event/params/priceTable/tiers/0/flatFee`, code: 'AMOUNT_TOO_LARGE' },
      { pointer: `/rules/${surcharge}/event/params/amount`, code: 'AMOUNT_TOO_LARGE' },
    ]);
    expect(problemsOf(bundle)).toEqual([{ pointer: '/addOns/0/price', code: 'AMOUNT_TOO_LARGE' }]);
    expect(problemsOf(enterprise)).toEqual([{ pointer: '/committedSpend/budget', code: 'AMOUNT_TOO_LARGE' }]);
    expect(validatePlan(plan, { knownOffers }).problems[0].message).toContain('below 1000000000000');
  });
});

describe('a version published before these rules still rates as it did', () => {
  it('compiles with the problems as warnings and prices the event as before', async () => {
    const plan = postpaid();
    params(plan, 'mms-roaming').pricePerUnit = '0.00000001';
    params(plan, 'mms-roaming').rounding = { mode: 'UP', scale: 8 };
    params(plan, 'roaming-world-sms').pricePerUnit = '123456789012345678901234567890';
    const report = validatePlan(plan, { knownOffers, mode: 'rating' });
    expect(report.valid).toBe(true);
    expect(codes(report.warnings).map((w) => w.code).sort()).toEqual(['AMOUNT_PRECISION', 'AMOUNT_TOO_LARGE', 'ROUNDING_TOO_FINE']);
    const compiled = compilePlan(plan, { version: '1', knownOffers });
    expect(await ratePlain(compiled, mmsAbroad, ctx)).toMatchObject({ decision: 'RATED', price: '0.00000001' });
  });
});
