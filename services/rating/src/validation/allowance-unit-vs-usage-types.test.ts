/**
 * An allowance's `unit` against its own `usageTypes` (brief oneplace, 2026-11-30). Usage counts a record's quantity in
 * the unit of its usage type (UNIT_OF_USAGE_TYPE: seconds of VOICE, messages of SMS and MMS, MB of DATA, items of
 * CONTENT) and a bucket is drawn down by that quantity as it is: nothing converts. The validator checked a rate rule's
 * unit against the usage it rates (UNIT_NOT_FOR_USAGE_TYPE, 4f8fa73) but never an allowance's unit against the usage
 * types it says it covers, so `"unit": "MB", "usageTypes": ["DATA", "VOICE"]` was valid and would take a 300 s call
 * as 300 MB. Now it is UNIT_NOT_FOR_USAGE_TYPE at the allowance's `…/unit`, naming the usage types counted in another
 * unit. Authoring-only, as every check added after versions were published: a published version keeps rating, with
 * the warning.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { UsageType } from '../domain/facts';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { validateOffer, validatePlan } from './validate-plan';

const catalogPath = (path: string) => fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url));
const read = <T>(path: string): T => JSON.parse(readFileSync(catalogPath(path), 'utf8')) as T;
const offers = readdirSync(catalogPath('offers')).map((f) => read<OfferDocument>(`offers/${f}`));
const codes = (problems: { pointer: string; code: string }[] | undefined) => (problems ?? []).map(({ pointer, code }) => `${pointer} ${code}`);

/** postpaid-20gb with its allowance `id` covering `usageTypes`. */
function postpaidWith(id: string, usageTypes: string[]): { plan: PlanDocument; i: number } {
  const plan = read<PlanDocument>('plans/postpaid-20gb.json');
  const i = plan.allowances.findIndex((a) => a.id === id);
  expect(i).toBeGreaterThanOrEqual(0);
  plan.allowances[i].usageTypes = usageTypes as UsageType[];
  return { plan, i };
}

describe("an allowance's unit against its usage types", () => {
  it('every shipped plan and offer is valid as it is (each failure below comes from its one edit)', () => {
    for (const file of readdirSync(catalogPath('plans'))) expect({ file, problems: codes(validatePlan(read(`plans/${file}`), { knownOffers: offers }).problems) }).toEqual({ file, problems: [] });
    for (const file of readdirSync(catalogPath('offers'))) expect({ file, problems: codes(validateOffer(read(`offers/${file}`)).problems) }).toEqual({ file, problems: [] });
  });

  it('a MB allowance that also covers VOICE is reported at its unit, naming VOICE and SECOND', () => {
    const { plan, i } = postpaidWith('data', ['DATA', 'VOICE']);
    const problems = validatePlan(plan, { knownOffers: offers }).problems;
    expect(codes(problems)).toEqual([`/allowances/${i}/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    expect(problems[0].message).toBe(
      'Allowance "data" counts "MB" but covers VOICE, which usage counts in SECOND: a bucket is drawn down by a record\'s quantity as it is, so each VOICE second would be taken as a megabyte. Give VOICE an allowance of its own in SECOND, or remove it from "usageTypes".',
    );
  });

  it('names each usage type of another unit, with its unit', () => {
    const { plan, i } = postpaidWith('sms', ['SMS', 'VOICE', 'MMS', 'DATA']);
    const [problem] = validatePlan(plan, { knownOffers: offers }).problems;
    expect(problem).toMatchObject({ pointer: `/allowances/${i}/unit`, code: 'UNIT_NOT_FOR_USAGE_TYPE' });
    expect(problem.message).toContain('covers VOICE and DATA, which usage counts in SECOND and MB');
    expect(problem.message).toContain('Give VOICE and DATA allowances of their own');
  });

  it('an allowance whose usage types are all of another unit is told the unit to set', () => {
    const { plan, i } = postpaidWith('sms', ['VOICE']);
    const problems = validatePlan(plan, { knownOffers: offers }).problems;
    expect(codes(problems)).toEqual([`/allowances/${i}/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    expect(problems[0].message).toContain('Set "unit": "SECOND"');
  });

  it("checks an add-on's allowances; not an offer's, whose usageTypes are descriptive (catalog/README, Offers)", () => {
    const bundle = read<PlanDocument>('plans/prepaid-bundle-30d.json');
    bundle.addOns![0].allowances[0].usageTypes = ['DATA', 'SMS'];
    expect(codes(validatePlan(bundle, { knownOffers: offers }).problems)).toEqual(['/addOns/0/allowances/0/unit UNIT_NOT_FOR_USAGE_TYPE']);
    // Rating takes an offer's bucket by a rule's allowanceId, never by its usageTypes: importOffer's checks stay as they were.
    const pass = read<OfferDocument>('offers/roam-world-pass-7d.json');
    pass.allowances[1].usageTypes = ['VOICE', 'CONTENT'];
    expect(codes(validateOffer(pass).problems)).toEqual([]);
  });

  it('is a warning when rating: a version published with such an allowance still compiles', () => {
    const { plan, i } = postpaidWith('data', ['DATA', 'VOICE']);
    const report = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect(report).toMatchObject({ valid: true, problems: [] });
    expect(codes(report.warnings)).toEqual([`/allowances/${i}/unit UNIT_NOT_FOR_USAGE_TYPE`]);
    expect(() => compilePlan(plan, { version: '1', knownOffers: offers })).not.toThrow();
  });
});
