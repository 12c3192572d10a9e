/**
 * `increments.first` / `next` written as a JSON integer past 2^53 (a slip of the keyboard:
 * 60000000000000000000 for 60, or 1e21) passed validation (the schema only asked for an integer
 * >= 1) and then crashed when the version was compiled: `toDecimal` throws a TypeError for an
 * unsafe integer, and the number's text ("1e+21") is no BigInt. A TypeError is no
 * PlanValidationError, so catalog simulation answered INTERNAL_SERVER_ERROR and usage's plan cache
 * rethrew it for every event of the version. Such a number is not even the one the file says (JSON
 * parsing already rounded it), so it is refused with its pointer; a string keeps its digits.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePlan, PlanValidationError } from '../engine/compile-plan';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));

describe('increments past the safe integers', () => {
  for (const [what, text] of [['1e21', '1e21'], ['2^53 + 1', '9007199254740993']] as const) {
    it(`refuses ${what} at its pointer, and compiling says so instead of throwing a TypeError`, () => {
      const plan = read<PlanDocument>('plans/prepaid-payg.json');
      const i = plan.rules.findIndex((rule) => rule.event.type === 'rate' && 'increments' in rule.event.params);
      // As the product manager's file says it (JSON.parse turns the digits into a float).
      const params = plan.rules[i].event.params as { increments: { first: unknown; next: unknown } };
      params.increments.first = JSON.parse(text);
      const pointer = `/rules/${i}/event/params/increments/first`;

      const report = validatePlan(plan, { knownOffers });
      expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`${pointer} INVALID_EVENT_PARAMS`]);
      let thrown: unknown;
      try {
        compilePlan(plan, { version: '1', knownOffers });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PlanValidationError);
      expect((thrown as PlanValidationError).problems.map((p) => p.pointer)).toEqual([pointer]);
    });
  }

  it('still takes a large increment as a decimal string, exactly', () => {
    const plan = read<PlanDocument>('plans/prepaid-payg.json');
    const i = plan.rules.findIndex((rule) => rule.event.type === 'rate' && 'increments' in rule.event.params);
    (plan.rules[i].event.params as { increments: { first: unknown } }).increments.first = '9007199254740993';
    expect(validatePlan(plan, { knownOffers }).problems).toEqual([]);
    expect(compilePlan(plan, { version: '1', knownOffers }).rules[i].tariff!.first.toFixed()).toBe('9007199254740993');
  });
});
