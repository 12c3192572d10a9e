/**
 * A price-table tier with no price (review, 2026-11-28). The schema makes `unitPrice` and `flatFee`
 * both optional and `compileTariff` reads a missing one as "0", so a GRADUATED or VOLUME tier with
 * neither (a tier whose price was forgotten, often the last, open one) passed validation, was
 * published, and rated every unit that fell in it at zero: no error, no warning, no revenue.
 * (TIERED_FLAT already required every tier's flatFee.) Authoring now refuses it as INVALID_TIERS at
 * the tier's `unitPrice`; a free tier is written `"unitPrice": "0"`. It is authoring-only, as every
 * rule added after versions were published: a version published before it keeps rating as published
 * (refusing it would reject every event of its lines, not only the tier's units) and its validation in
 * rating mode shows the warning, naming the tier.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../engine/compile-plan';
import type { OfferDocument, PlanDocument, PriceTable } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8')) as T;
const offers = ['data-boost-5gb.json', 'roam-world-pass-7d.json'].map((f) => read<OfferDocument>(`offers/${f}`));

/** A shipped plan and the index and price table of one of its tiered rules. */
function tiered(file: string, rule: string): { plan: PlanDocument; i: number; table: PriceTable } {
  const plan = read<PlanDocument>(`plans/${file}`);
  const i = plan.rules.findIndex((r) => r.name === rule);
  const params = plan.rules[i].event.params as { priceTable?: PriceTable };
  expect(params.priceTable, `${file} ${rule}`).toBeDefined();
  return { plan, i, table: params.priceTable! };
}

const problemsOf = (plan: PlanDocument) => validatePlan(plan, { knownOffers: offers }).problems.map((p) => `${p.pointer} ${p.code}`);

describe('a price-table tier without a price', () => {
  it('the shipped tiered plans are valid as they are (every failure below comes from the one edit)', () => {
    for (const file of ['prepaid-payg.json', 'business-pool.json', 'postpaid-20gb.json', 'enterprise-committed-spend-usd.json']) {
      expect({ file, problems: problemsOf(read(`plans/${file}`)) }).toEqual({ file, problems: [] });
    }
  });

  it('GRADUATED: a middle tier with neither unitPrice nor flatFee is INVALID_TIERS at its unitPrice', () => {
    const { plan, i, table } = tiered('prepaid-payg.json', 'data-home');
    expect(table).toMatchObject({ model: 'GRADUATED', basis: 'PERIOD' });
    delete table.tiers[1].unitPrice;
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ pointer: `/rules/${i}/event/params/priceTable/tiers/1/unitPrice`, code: 'INVALID_TIERS' })]);
    expect(report.problems[0].authoringOnly).toBe(true);
    expect(report.problems[0].message).toMatch(/"unitPrice".*"flatFee".*"0"/);
  });

  it('VOLUME: the last, open tier without a price is reported too', () => {
    const { plan, i, table } = tiered('business-pool.json', 'voice-international-volume');
    expect(table.model).toBe('VOLUME');
    const last = table.tiers.length - 1;
    delete table.tiers[last].unitPrice;
    expect(problemsOf(plan)).toEqual([`/rules/${i}/event/params/priceTable/tiers/${last}/unitPrice INVALID_TIERS`]);
  });

  it('a free tier written "0", and a tier priced by its flatFee alone, are fine', () => {
    const { plan, table } = tiered('postpaid-20gb.json', 'data-allowance');
    expect(table.model).toBe('GRADUATED');
    table.tiers[0] = { upTo: table.tiers[0].upTo, unitPrice: '0' };
    table.tiers[1] = { upTo: null, flatFee: '5.00' };
    expect(problemsOf(plan)).toEqual([]);
  });

  it('TIERED_FLAT: a tier without its flatFee is still one problem, at flatFee', () => {
    const { plan, i, table } = tiered('business-pool.json', 'data-pool');
    expect(table.model).toBe('TIERED_FLAT');
    delete table.tiers[0].flatFee;
    expect(problemsOf(plan)).toEqual([`/rules/${i}/event/params/priceTable/tiers/0/flatFee INVALID_TIERS`]);
  });

  it('a version published before the rule keeps rating (its lines are not cut off), with the warning naming the tier', () => {
    const { plan, i, table } = tiered('prepaid-payg.json', 'data-home');
    delete table.tiers[2].unitPrice;
    expect(() => compilePlan(plan, { version: '4', knownOffers: offers })).not.toThrow();
    const report = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: report.valid, warnings: (report.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: [`/rules/${i}/event/params/priceTable/tiers/2/unitPrice INVALID_TIERS`] });
  });
});
