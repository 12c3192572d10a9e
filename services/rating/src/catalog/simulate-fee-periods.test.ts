/**
 * Simulation over fee periods, and the allowances of add-ons and offers.
 *
 * Bugs: `simulate` took one recurring fee whatever the fee's period (a 7.00/WEEK plan cost 7.00
 * over a month of usage, next to a 29.99/MONTH plan: 4x cheaper than it is), granted the plan's
 * allowances once for the whole usage (a weekly 1000 MB renews every week), and only knew the
 * plan's own allowances (a rule rating from an active add-on's or offer's allowance charged every
 * unit). Periods follow `allowancePeriodAt` (contracts), as wallets and usage count them.
 */
import { describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import type { OfferDocument, PlanDocument, RecurringFee } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan } from '../engine/compile-plan';
import { allowancePeriodAt, Decimal as MoneyDecimal, unusedDaysRefund } from '@ledgerline/contracts';
import { comparePlans, recurringFeesOver, simulate } from './simulate';

const BOOST: OfferDocument = {
  code: 'BOOST_2GB',
  name: 'Boost',
  description: 'Two more gigabytes',
  currency: 'EUR',
  price: '4.99',
  validityDays: 30,
  allowances: [{ id: 'boost', unit: 'MB', usageTypes: ['DATA'], quantity: '2000', validity: { days: 30 } }],
  taxCategory: 'TELECOM_STANDARD',
};

const dataRule = (name: string, allowanceId: string, addOn?: string, priority = 1): PlanDocument['rules'][number] => ({
  name,
  priority,
  conditions: {
    all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }, ...(addOn ? [{ fact: 'activeAddOns', operator: 'contains', value: addOn }] : [])],
  },
  event: { type: 'rate', params: { unit: 'MB', allowanceId, pricePerUnit: '0.0100' } },
});

function planWith(code: string, recurringFee: RecurringFee | undefined, rules = [dataRule('data', 'data')]): PlanDocument {
  return {
    code,
    name: code,
    description: 'test plan',
    paymentMode: 'PREPAID',
    currency: 'EUR',
    timezone: 'UTC',
    taxCategory: 'TELECOM_STANDARD',
    ...(recurringFee ? { recurringFee } : {}),
    allowances: [{ id: 'data', unit: 'MB', usageTypes: ['DATA'], quantity: '1000', validity: 'PERIOD' }],
    addOns: [{ code: 'EXTRA_500MB', name: 'Extra 500 MB', price: '2.00', validityDays: 30, allowances: [{ id: 'extra', unit: 'MB', usageTypes: ['DATA'], quantity: '500', validity: 'PERIOD' }] }],
    compatibleOffers: ['BOOST_2GB'],
    zones: { homeCountry: 'DE' },
    rules,
  };
}

const compile = (doc: PlanDocument) => compilePlan(doc, { version: '1', knownOffers: [BOOST] });
const ctx: SubscriberContext = { accountType: 'PREPAID', lineStatus: 'ACTIVE', lineCount: 1 };
let n = 0;
const data = (occurredAt: string, quantity: string): UsageEvent => ({ id: `e${++n}`, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt });

/** One record a day through March 2025 (31 days): 100 MB each. */
const march = Array.from({ length: 31 }, (_, d) => data(`2025-03-${String(d + 1).padStart(2, '0')}T12:00:00Z`, '100'));

describe('simulate: the recurring fee per fee period (allowancePeriodAt)', () => {
  it('charges a WEEK fee for every week the usage spans: 4 weeks and 3 of 7 days of a fifth over March', async () => {
    const report = await simulate(compile(planWith('WEEKLY', { amount: '7.00', period: 'WEEK', proration: 'DAILY' })), march, ctx);
    // Periods from 1 March: 1, 8, 15, 22 March whole; 29 March - 5 April cut at 1 April (3 days of 7).
    expect(report.recurringFee).toBe('31.00');
    expect(report.feePeriods).toBe(5);
    expect(report.total).toBe(new Decimal(report.usageCharge).plus('31.00').toString());
  });

  it('charges a DAYS30 fee for the part of the second period the span reaches, and a MONTH fee once', async () => {
    const days30 = await simulate(compile(planWith('DAYS30', { amount: '15.00', period: 'DAYS30', proration: 'NONE' })), march, ctx);
    expect(days30.recurringFee).toBe('15.50'); // 1 - 31 March whole, 31 March - 30 April: 1 day of 30
    const month = await simulate(compile(planWith('MONTHLY', { amount: '29.99', period: 'MONTH', proration: 'DAILY' })), march, ctx);
    expect(month.recurringFee).toBe('29.99');
    expect(month.feePeriods).toBe(1);
  });

  it('takes an explicit span (a compared month) and anchors the periods at its start', async () => {
    const weekly = compile(planWith('WEEKLY', { amount: '7.00', period: 'WEEK', proration: 'DAILY' }));
    const february = { from: new Date('2025-02-01T00:00:00Z'), to: new Date('2025-03-01T00:00:00Z') };
    const report = await simulate(weekly, [data('2025-02-10T10:00:00Z', '10')], ctx, { span: february });
    expect(report.recurringFee).toBe('28.00');
    expect(report.span).toEqual({ from: '2025-02-01T00:00:00.000Z', to: '2025-03-01T00:00:00.000Z' });
    // No usage in the span still costs the fee of the span.
    expect((await simulate(weekly, [], ctx, { span: february })).recurringFee).toBe('28.00');
  });

  it('charges one period without usage or span, and nothing for a plan without a fee', async () => {
    expect((await simulate(compile(planWith('WEEKLY', { amount: '7.00', period: 'WEEK', proration: 'DAILY' })), [], ctx)).recurringFee).toBe('7.00');
    expect((await simulate(compile(planWith('FREE', undefined)), march, ctx)).recurringFee).toBe('0');
  });

  it('renews the plan allowances every fee period: 1000 MB a week covers 700 MB a week', async () => {
    const report = await simulate(compile(planWith('WEEKLY', { amount: '7.00', period: 'WEEK', proration: 'DAILY' })), march, ctx);
    expect(report.usageCharge).toBe('0');
    expect(report.charges.every((c) => c.coveredUnits === '100')).toBe(true);
  });

  it('counts spend and period usage per period: a 30-day allowance of 1000 MB runs out once per period', async () => {
    const report = await simulate(compile(planWith('DAYS30', { amount: '15.00', period: 'DAYS30', proration: 'DAILY' })), march, ctx);
    // 1 - 30 March: 30 x 100 MB, 1000 covered, 2000 MB at 0.01; 31 March: a new period, covered again.
    expect(report.usageCharge).toBe('20');
    expect(report.charges.at(-1)!.coveredUnits).toBe('100');
  });

  it('compares a weekly plan with a monthly one on the same month, each with its fees over the span', async () => {
    const weekly = compile(planWith('WEEKLY', { amount: '7.00', period: 'WEEK', proration: 'DAILY' }));
    const monthly = compile(planWith('MONTHLY', { amount: '29.99', period: 'MONTH', proration: 'DAILY' }));
    const costs = await comparePlans(march, [weekly, monthly]);
    // 3100 MB: the weekly plan's 1000 MB a week covers it all; the monthly plan's 1000 MB leaves 2100 MB at 0.01.
    expect(costs.map((c) => [c.planCode, c.recurringFee, new Decimal(c.total).toFixed(2)])).toEqual([
      ['WEEKLY', '31.00', '31.00'],
      ['MONTHLY', '29.99', '50.99'],
    ]);
  });
});

describe('recurringFeesOver', () => {
  it('agrees with walking the periods one by one (allowancePeriodAt, the cut one less unusedDaysRefund)', () => {
    const spans = [
      ['2025-01-31T00:00:00Z', '2025-04-30T00:00:00Z'],
      ['2025-01-31T10:30:00Z', '2025-03-01T00:00:00Z'],
      ['2024-02-29T00:00:00Z', '2025-03-01T00:00:00Z'],
      ['2025-03-01T00:00:00Z', '2025-03-02T00:00:00Z'],
      ['2025-03-01T00:00:00Z', '2027-11-17T05:00:00Z'],
    ];
    for (const [from, to] of spans) {
      for (const period of ['MONTH', 'DAYS30', 'WEEK'] as const) {
        const span = { from: new Date(from), to: new Date(to) };
        let periods = 0;
        let amount = new MoneyDecimal(0);
        for (let p = allowancePeriodAt(span.from, period, span.from); p.start < span.to; p = allowancePeriodAt(span.from, period, p.end)) {
          periods++;
          amount = amount.plus(new MoneyDecimal('9.99').minus(unusedDaysRefund(new MoneyDecimal('9.99'), p, span.to, 'EUR').amount));
        }
        const counted = recurringFeesOver({ amount: '9.99', period, proration: 'DAILY' }, 'EUR', span);
        expect([counted.periods, counted.amount.toFixed(2)], `${period} ${from} - ${to}`).toEqual([periods, amount.toFixed(2)]);
      }
    }
  });

  it('charges a month anchored on the 31st three times from 31 January to 30 April (28 February, 31 March)', () => {
    const fees = recurringFeesOver({ amount: '10.00', period: 'MONTH', proration: 'NONE' }, 'EUR', { from: new Date('2025-01-31T00:00:00Z'), to: new Date('2025-04-30T00:00:00Z') });
    expect([fees.periods, fees.amount.toFixed(2)]).toEqual([3, '30.00']);
  });
});

describe('simulate: allowances of the add-ons and offers named active', () => {
  const rules = [dataRule('data-extra', 'extra', 'EXTRA_500MB', 20), dataRule('data-boost', 'boost', 'BOOST_2GB', 10), dataRule('data', 'data')];
  const plan = compile(planWith('ADDONS', undefined, rules));
  const usage = [data('2025-03-02T10:00:00Z', '400'), data('2025-03-03T10:00:00Z', '400')];

  it("draws a plan add-on's allowance when the add-on is active", async () => {
    const report = await simulate(plan, usage, { ...ctx, activeAddOns: ['EXTRA_500MB'] });
    // 500 MB: the first 400 MB and 100 MB of the second record; 300 MB at 0.01.
    expect(report.charges.map((c) => [c.result.allowanceId, c.coveredUnits, new Decimal(c.charge).toFixed(2)])).toEqual([
      ['extra', '400', '0.00'],
      ['extra', '100', '3.00'],
    ]);
    expect(report.usageCharge).toBe('3');
  });

  it("draws an offer's allowance when the offer is active and its document is given", async () => {
    const report = await simulate(plan, usage, { ...ctx, activeAddOns: ['BOOST_2GB'] }, { offers: [BOOST] });
    expect(report.charges.map((c) => c.coveredUnits)).toEqual(['400', '400']);
    expect(report.usageCharge).toBe('0');
  });

  it('grants nothing for an add-on that is not active', async () => {
    const report = await simulate(plan, usage, ctx);
    expect(report.charges.map((c) => [c.result.allowanceId, c.coveredUnits])).toEqual([
      ['data', '400'],
      ['data', '400'],
    ]);
  });
});
