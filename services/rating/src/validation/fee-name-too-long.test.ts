/**
 * A plan fee's name had no length limit, but its charge's description ("<name> for <MSISDN>", a
 * PLAN_CHANGE fee's "... (to <plan name>)") must fit a one-off's description
 * (ONE_OFF_DESCRIPTION_MAX in contracts): invoicing dropped a postpaid fee whose description was
 * too long for its column, so the money was never billed. Authoring now reports such a name at its
 * pointer (FEE_NAME_TOO_LONG), so a product manager shortens it before publishing; a version
 * published before still rates (authoring-only: a warning in 'rating' mode).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LONGEST_MSISDN, ONE_OFF_DESCRIPTION_MAX, planChangeWording, planFeeDescription } from '@ledgerline/contracts';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const catalogPath = (path: string) => fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url));
const read = <T>(path: string): T => JSON.parse(readFileSync(catalogPath(path), 'utf8'));
const knownOffers = readdirSync(catalogPath('offers')).filter((f) => f.endsWith('.json')).map((f) => read<OfferDocument>(`offers/${f}`));

const PLAN_NAME = 'Family Share 50 GB with unlimited EU roaming, calls and texts for the whole house'.slice(0, 80);
/** " for +999999999999999 (to <80 characters>)": 107 characters, so a PLAN_CHANGE fee's name has 193. */
const PLAN_CHANGE_NAME_MAX = ONE_OFF_DESCRIPTION_MAX - [...` for ${LONGEST_MSISDN} ${planChangeWording(PLAN_NAME)}`].length;
/** " for +999999999999999": 21 characters, so another fee's name has 279. */
const OTHER_NAME_MAX = ONE_OFF_DESCRIPTION_MAX - [...` for ${LONGEST_MSISDN}`].length;

function plan(fees: { name: string; trigger: string }[]): PlanDocument {
  const doc = read<PlanDocument>('plans/postpaid-20gb.json');
  doc.name = PLAN_NAME;
  doc.oneOffFees = fees.map((f, i) => ({ code: `FEE_${i}`, name: f.name, amount: '9.99', trigger: f.trigger })) as PlanDocument['oneOffFees'];
  return doc;
}
const name = (n: number) => 'Plan change administration fee '.repeat(20).slice(0, n);
const tooLong = (doc: PlanDocument, mode?: 'rating') => {
  const report = validatePlan(doc, { knownOffers, mode });
  return { report, problems: [...report.problems, ...(report.warnings ?? [])].filter((p) => p.code === 'FEE_NAME_TOO_LONG') };
};

describe('a plan fee whose charge description would be longer than a one-off description holds', () => {
  it('is reported at its JSON pointer with the longest name that fits, for the plan-change wording and the others', () => {
    expect([PLAN_NAME.length, PLAN_CHANGE_NAME_MAX, OTHER_NAME_MAX]).toEqual([80, 193, 279]);
    const doc = plan([
      { name: 'Activation fee', trigger: 'ACTIVATION' },
      { name: name(PLAN_CHANGE_NAME_MAX + 1), trigger: 'PLAN_CHANGE' },
      { name: name(OTHER_NAME_MAX + 1), trigger: 'TERMINATION' },
    ]);
    const { report, problems } = tooLong(doc);
    expect(report.valid).toBe(false);
    expect(problems.map(({ pointer, code }) => ({ pointer, code }))).toEqual([
      { pointer: '/oneOffFees/1/name', code: 'FEE_NAME_TOO_LONG' },
      { pointer: '/oneOffFees/2/name', code: 'FEE_NAME_TOO_LONG' },
    ]);
    const longest = `${planFeeDescription(name(PLAN_CHANGE_NAME_MAX + 1), LONGEST_MSISDN, planChangeWording(PLAN_NAME))}`;
    expect([...longest].length).toBe(ONE_OFF_DESCRIPTION_MAX + 1);
    expect(problems[0]!.message).toContain(`${ONE_OFF_DESCRIPTION_MAX + 1} characters`);
    expect(problems[0]!.message).toContain(`at most ${PLAN_CHANGE_NAME_MAX} characters`);
    expect(problems[1]!.message).toContain(`at most ${OTHER_NAME_MAX} characters`);
  });

  it('is not reported when the description fits exactly, nor for the shipped plans', () => {
    const doc = plan([
      { name: name(PLAN_CHANGE_NAME_MAX), trigger: 'PLAN_CHANGE' },
      { name: name(OTHER_NAME_MAX), trigger: 'SIM_REPLACEMENT' },
    ]);
    expect(tooLong(doc).problems).toEqual([]);
    for (const file of readdirSync(catalogPath('plans')).filter((f) => f.endsWith('.json'))) {
      expect(tooLong(read<PlanDocument>(`plans/${file}`)).problems, file).toEqual([]);
    }
  });

  it('does not stop a version published before the rule from rating (a warning in rating mode)', () => {
    const { report, problems } = tooLong(plan([{ name: name(OTHER_NAME_MAX + 1), trigger: 'TERMINATION' }]), 'rating');
    expect(report.valid).toBe(true);
    expect(report.warnings?.map((p) => p.pointer)).toEqual(['/oneOffFees/0/name']);
    expect(problems).toHaveLength(1);
  });
});
