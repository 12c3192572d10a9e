/**
 * What the add-ons named active and the plan's one-off fees cost in a simulation.
 *
 * Bug: `simulate` counted the allowances of the add-ons and offers in `activeAddOns` but not their
 * price, and left out the plan's `oneOffFees`: a plan whose data comes from a paid add-on, or that
 * charges an activation fee, looked cheaper than it is in `comparePlans`. An active add-on is now
 * bought for each of its validity windows from the span's start (as subscribers sells it: once,
 * valid `validityDays`, again when it ends), the window the span's end cuts prorated as the
 * recurring fee is; its allowances come with each purchase. The ACTIVATION fees are charged once:
 * the simulated subscription starts with the span. Amounts are exact decimals.
 */
import { describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan } from '../engine/compile-plan';
import { comparePlans, simulate } from './simulate';

const BOOST: OfferDocument = {
  code: 'BOOST_2GB',
  name: 'Boost 2 GB',
  description: 'Two more gigabytes',
  currency: 'EUR',
  price: '4.99',
  validityDays: 30,
  allowances: [{ id: 'boost', unit: 'MB', usageTypes: ['DATA'], quantity: '2000', validity: { days: 30 } }],
  taxCategory: 'TELECOM_STANDARD',
};
const BOOST_USD: OfferDocument = { ...BOOST, code: 'BOOST_USD', currency: 'USD', allowances: [{ ...BOOST.allowances[0], id: 'boost-usd' }] };
const BOOST_ELSEWHERE: OfferDocument = { ...BOOST, code: 'BOOST_ELSEWHERE', compatiblePlans: ['SOME_OTHER_PLAN'], allowances: [{ ...BOOST.allowances[0], id: 'boost-elsewhere' }] };
const OFFERS = [BOOST, BOOST_USD, BOOST_ELSEWHERE];

const dataRule = (name: string, allowanceId: string, addOn?: string, priority = 1): PlanDocument['rules'][number] => ({
  name,
  priority,
  conditions: {
    all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }, ...(addOn ? [{ fact: 'activeAddOns', operator: 'contains', value: addOn }] : [])],
  },
  event: { type: 'rate', params: { unit: 'MB', allowanceId, pricePerUnit: '0.0100' } },
});

/** 29.99 a month, 1000 MB; a 3.00 week pass of 100 MB; activation 19.99 and three fees the span never triggers. */
function plan(overrides: Partial<PlanDocument> = {}): PlanDocument {
  return {
    code: 'SMART',
    name: 'Smart',
    description: 'test plan',
    paymentMode: 'POSTPAID',
    currency: 'EUR',
    timezone: 'UTC',
    taxCategory: 'TELECOM_STANDARD',
    recurringFee: { amount: '29.99', period: 'MONTH', proration: 'DAILY' },
    oneOffFees: [
      { code: 'ACTIVATION', name: 'Activation fee', amount: '19.99', trigger: 'ACTIVATION' },
      { code: 'SIM_SWAP', name: 'Replacement SIM', amount: '14.99', trigger: 'SIM_REPLACEMENT' },
      { code: 'CHANGE', name: 'Plan change', amount: '5.00', trigger: 'PLAN_CHANGE' },
      { code: 'LEAVE', name: 'Termination', amount: '25.00', trigger: 'TERMINATION' },
    ],
    allowances: [{ id: 'data', unit: 'MB', usageTypes: ['DATA'], quantity: '1000', validity: 'PERIOD' }],
    addOns: [{ code: 'WEEK_PASS', name: 'Week pass', price: '3.00', validityDays: 7, allowances: [{ id: 'week', unit: 'MB', usageTypes: ['DATA'], quantity: '100', validity: 'PERIOD' }] }],
    compatibleOffers: ['BOOST_2GB', 'BOOST_USD', 'BOOST_ELSEWHERE'],
    zones: { homeCountry: 'DE' },
    rules: [
      dataRule('data-week', 'week', 'WEEK_PASS', 30),
      dataRule('data-boost', 'boost', 'BOOST_2GB', 20),
      dataRule('data-usd', 'boost-usd', 'BOOST_USD', 15),
      dataRule('data-elsewhere', 'boost-elsewhere', 'BOOST_ELSEWHERE', 12),
      dataRule('data', 'data'),
    ],
    ...overrides,
  };
}

const compile = (doc: PlanDocument) => compilePlan(doc, { version: '1', knownOffers: OFFERS });
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE', lineCount: 1 };
const february = { from: new Date('2025-02-01T00:00:00Z'), to: new Date('2025-03-01T00:00:00Z') };
let n = 0;
const data = (occurredAt: string, quantity: string): UsageEvent => ({ id: `e${++n}`, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt });

describe('simulate: prices of the add-ons named active, and one-off fees', () => {
  it('charges each active add-on for every purchase the span needs and the activation fee, each its own line', async () => {
    const report = await simulate(compile(plan()), [data('2025-02-03T10:00:00Z', '50')], { ...ctx, activeAddOns: ['WEEK_PASS', 'BOOST_2GB'] }, { span: february, offers: OFFERS });
    // Week pass: 4 whole weeks of February. Boost: one purchase of 30 days, 28 of them in the span:
    // 4.99 less 2/30 of it (0.332..., 0.33 half-even to the cent) = 4.66.
    expect(report.fees).toEqual([
      { kind: 'ADD_ON', code: 'WEEK_PASS', name: 'Week pass', count: 4, amount: '12.00' },
      { kind: 'ADD_ON', code: 'BOOST_2GB', name: 'Boost 2 GB', count: 1, amount: '4.66' },
      // SIM replacement, plan change and termination do not happen in a simulated span.
      { kind: 'ONE_OFF', code: 'ACTIVATION', name: 'Activation fee', count: 1, amount: '19.99' },
    ]);
    expect(report.addOnFee).toBe('16.66');
    expect(report.oneOffFee).toBe('19.99');
    expect(report.recurringFee).toBe('29.99');
    expect(report.usageCharge).toBe('0');
    expect(report.total).toBe('66.64'); // 0 + 29.99 + 16.66 + 19.99
  });

  it('prorates the purchase the span end cuts as it prorates the recurring fee', async () => {
    // 1 - 10 February: one whole week pass, then 3 days of 7 of the next (3.00 less 4/7 = 1.71, so 1.29).
    const tenDays = { from: february.from, to: new Date('2025-02-11T00:00:00Z') };
    const report = await simulate(compile(plan({ oneOffFees: [] })), [], { ...ctx, activeAddOns: ['WEEK_PASS'] }, { span: tenDays });
    expect(report.fees).toEqual([{ kind: 'ADD_ON', code: 'WEEK_PASS', name: 'Week pass', count: 2, amount: '4.29' }]);
    expect(report.addOnFee).toBe('4.29');
    expect(report.oneOffFee).toBe('0');
  });

  it('grants the add-on allowances again with each purchase', async () => {
    // 100 MB a week: the first record uses it, the second finds it spent, the third is in the next week.
    const usage = [data('2025-02-03T10:00:00Z', '100'), data('2025-02-05T10:00:00Z', '100'), data('2025-02-10T10:00:00Z', '100')];
    const report = await simulate(compile(plan()), usage, { ...ctx, activeAddOns: ['WEEK_PASS'] }, { span: february });
    expect(report.charges.map((c) => [c.coveredUnits, new Decimal(c.charge).toFixed(2)])).toEqual([
      ['100', '0.00'],
      ['0', '1.00'],
      ['100', '0.00'],
    ]);
  });

  it('neither prices nor grants an offer that cannot be bought on the plan (another currency, not compatible)', async () => {
    const report = await simulate(compile(plan({ oneOffFees: [] })), [data('2025-02-03T10:00:00Z', '100')], { ...ctx, activeAddOns: ['BOOST_USD', 'BOOST_ELSEWHERE'] }, { span: february, offers: OFFERS });
    expect(report.fees).toEqual([]);
    expect(report.addOnFee).toBe('0');
    expect(report.charges.map((c) => [c.result.allowanceId, c.coveredUnits])).toEqual([['data', '100']]);
  });

  it('without records or span: one purchase of each add-on and the activation fee, as a price list shows them', async () => {
    const report = await simulate(compile(plan()), [], { ...ctx, activeAddOns: ['BOOST_2GB'] }, { offers: OFFERS });
    expect(report.fees.map((f) => [f.code, f.count, f.amount])).toEqual([
      ['BOOST_2GB', 1, '4.99'],
      ['ACTIVATION', 1, '19.99'],
    ]);
    expect(report.total).toBe('54.97');
  });

  it('keeps amounts finer than the minor unit exactly, and a plan without either shows "0"', async () => {
    const fine = plan({ oneOffFees: [{ code: 'ACTIVATION', name: 'Activation fee', amount: '0.005', trigger: 'ACTIVATION' }] });
    // A version published before the minor-unit rule (compiling refuses it no more): its fee keeps its digits.
    const report = await simulate(compile(fine), [], ctx, { span: february });
    expect(report.oneOffFee).toBe('0.005');
    expect(report.total).toBe('29.995');
    const bare = await simulate(compile(plan({ oneOffFees: undefined, addOns: undefined, rules: [dataRule('data', 'data')] })), [], ctx, { span: february });
    expect([bare.addOnFee, bare.oneOffFee, bare.fees]).toEqual(['0', '0', []]);
  });
});

describe('comparePlans: a plan that needs a paid add-on is not cheaper than it is', () => {
  it('counts the add-on price and the activation fee in the total and the order', async () => {
    // 2500 MB in February. CHEAP: 10.00, its data from its own 8.00 add-on of 2500 MB (28 days).
    // ROOMY: 15.00 and 3000 MB. Without the add-on's price CHEAP looked cheaper (10.00 against 15.00).
    const cheap = plan({
      code: 'CHEAP',
      recurringFee: { amount: '10.00', period: 'MONTH', proration: 'DAILY' },
      oneOffFees: [{ code: 'ACTIVATION', name: 'Activation fee', amount: '0.50', trigger: 'ACTIVATION' }],
      addOns: [{ code: 'EXTRA_2GB', name: 'Extra 2 GB', price: '8.00', validityDays: 28, allowances: [{ id: 'extra', unit: 'MB', usageTypes: ['DATA'], quantity: '2500', validity: 'PERIOD' }] }],
      compatibleOffers: [],
      rules: [dataRule('data-extra', 'extra', 'EXTRA_2GB', 20), dataRule('data', 'data')],
    });
    const roomy = plan({
      code: 'ROOMY',
      recurringFee: { amount: '15.00', period: 'MONTH', proration: 'DAILY' },
      oneOffFees: [],
      allowances: [{ id: 'data', unit: 'MB', usageTypes: ['DATA'], quantity: '3000', validity: 'PERIOD' }],
      addOns: [],
      compatibleOffers: [],
      rules: [dataRule('data', 'data')],
    });
    const usage = [data('2025-02-05T10:00:00Z', '1000'), data('2025-02-15T10:00:00Z', '1500')];
    const costs = await comparePlans(usage, [compile(cheap), compile(roomy)], { activeAddOns: ['EXTRA_2GB'] }, { span: february });
    expect(costs.map((c) => [c.planCode, c.usageCharge, c.recurringFee, c.addOnFee, c.oneOffFee, c.total])).toEqual([
      ['ROOMY', '0', '15.00', '0', '0', '15'],
      ['CHEAP', '0', '10.00', '8.00', '0.50', '18.5'],
    ]);
  });
});
