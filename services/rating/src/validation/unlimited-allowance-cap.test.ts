/**
 * An allowance `unlimited: true` with no `fairUseCap` (review, 2026-11-28). It passed validation, but
 * wallets grants a bucket only of a quantity (an unlimited allowance's bucket is its fair-use cap:
 * grant-from-subscription.ts grantAllowance) and grants nothing for it, so every unit a rule rates
 * into it is charged at the rule's price in money, while usage counts it unlimited (free in its
 * estimates, no thresholds). Authoring now refuses it, naming the field to add; a version published
 * before still compiles for rating (an authoring-only problem, a warning there), as it rated before.
 * Every shipped plan and offer gives its unlimited allowances a cap and stays valid.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../engine/compile-plan';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { validateOffer, validatePlan } from './validate-plan';

const CATALOG = fileURLToPath(new URL('../../../../catalog/', import.meta.url));
const read = <T>(path: string): T => JSON.parse(readFileSync(`${CATALOG}${path}`, 'utf8')) as T;
const planFiles = readdirSync(`${CATALOG}plans`).filter((f) => f.endsWith('.json'));
const offerFiles = readdirSync(`${CATALOG}offers`).filter((f) => f.endsWith('.json'));
const offers = offerFiles.map((f) => read<OfferDocument>(`offers/${f}`));

/** postpaid-20gb with its unlimited voice allowance's fair-use cap taken away. */
function uncappedVoice(): { plan: PlanDocument; at: number } {
  const plan = read<PlanDocument>('plans/postpaid-20gb.json');
  const at = plan.allowances.findIndex((a) => a.id === 'voice');
  expect(plan.allowances[at]).toMatchObject({ unlimited: true, fairUseCap: '180000' });
  delete plan.allowances[at].fairUseCap;
  return { plan, at };
}

describe('an unlimited allowance without a fair-use cap', () => {
  it('every shipped plan and offer is valid (their unlimited allowances have a cap)', () => {
    expect(planFiles.length).toBeGreaterThan(0);
    for (const f of planFiles) expect({ f, ...validatePlan(read(`plans/${f}`), { knownOffers: offers }) }).toEqual({ f, valid: true, problems: [] });
    for (const f of offerFiles) expect({ f, ...validateOffer(read(`offers/${f}`)) }).toEqual({ f, valid: true, problems: [] });
  });

  it('is refused when authoring, naming the missing fairUseCap', () => {
    const { plan, at } = uncappedVoice();
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ pointer: `/allowances/${at}/fairUseCap`, code: 'MISSING_FIELD', authoringOnly: true })]);
    expect(report.problems[0].message).toMatch(/fairUseCap/);
  });

  it('in an add-on and in an offer too', () => {
    const plan = read<PlanDocument>('plans/prepaid-bundle-30d.json');
    const pass = plan.addOns![0].allowances[0];
    delete pass.quantity;
    pass.unlimited = true;
    expect(validatePlan(plan, { knownOffers: offers }).problems).toEqual([expect.objectContaining({ pointer: '/addOns/0/allowances/0/fairUseCap', code: 'MISSING_FIELD' })]);

    const offer = read<OfferDocument>('offers/data-boost-5gb.json');
    delete offer.allowances[0].quantity;
    offer.allowances[0].unlimited = true;
    const report = validateOffer(offer);
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ pointer: '/allowances/0/fairUseCap', code: 'MISSING_FIELD' })]);
  });

  it('a version published before still compiles for rating, with the problem as a warning', () => {
    const { plan, at } = uncappedVoice();
    expect(validatePlan(plan, { knownOffers: offers, mode: 'rating' })).toMatchObject({ valid: true, problems: [], warnings: [expect.objectContaining({ pointer: `/allowances/${at}/fairUseCap` })] });
    expect(() => compilePlan(plan, { version: '1', knownOffers: offers })).not.toThrow();
  });
});
