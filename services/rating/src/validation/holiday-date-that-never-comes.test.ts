/**
 * A holiday that is no day of the calendar (review, session 33). `calendar.holidays` takes local
 * dates as YYYY-MM-DD (one day) or MM-DD (every year); the schema's pattern takes any day 01-31 of
 * any month, so "04-31", "02-30" or "2026-02-29" (2026 is no leap year) were valid, and the day
 * never came: calls on the holiday the product manager meant priced as WEEKDAY or WEEKEND, with no
 * word. Authoring now refuses such a date as HOLIDAY_DATE_INVALID at its pointer. "02-29" (every
 * year) stays valid: it comes in leap years. Authoring-only: a version published with one keeps
 * rating as it did.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8')) as T;
const offers = ['data-boost-5gb.json', 'roam-world-pass-7d.json'].map((f) => read<OfferDocument>(`offers/${f}`));
const withHolidays = (...holidays: string[]): PlanDocument => {
  const plan = read<PlanDocument>('plans/postpaid-20gb.json');
  plan.calendar = { ...plan.calendar, holidays };
  return plan;
};
const problemsOf = (plan: PlanDocument) => validatePlan(plan, { knownOffers: offers }).problems.map((p) => `${p.pointer} ${p.code}`);

describe('a holiday on a day that does not exist', () => {
  it('04-31, 02-30, 2026-02-29 and 2025-06-31 are HOLIDAY_DATE_INVALID at their pointer', () => {
    expect(problemsOf(withHolidays('01-01', '04-31', '02-30', '2026-02-29', '2025-06-31'))).toEqual([
      '/calendar/holidays/1 HOLIDAY_DATE_INVALID',
      '/calendar/holidays/2 HOLIDAY_DATE_INVALID',
      '/calendar/holidays/3 HOLIDAY_DATE_INVALID',
      '/calendar/holidays/4 HOLIDAY_DATE_INVALID',
    ]);
    const [problem] = validatePlan(withHolidays('2026-02-29'), { knownOffers: offers }).problems;
    expect(problem.message).toContain('2026-02-29');
  });

  it('every real day is valid, 02-29 every year and 2028-02-29 included', () => {
    expect(problemsOf(withHolidays('02-29', '2028-02-29', '12-31', '04-30', '2026-02-28', '01-31'))).toEqual([]);
  });

  it('a version published with one still compiles and rates (a warning in rating mode)', () => {
    const plan = withHolidays('04-31');
    expect(validatePlan(plan, { knownOffers: offers, mode: 'rating' })).toMatchObject({ valid: true, problems: [], warnings: [{ pointer: '/calendar/holidays/0', code: 'HOLIDAY_DATE_INVALID' }] });
    expect(() => compilePlan(plan, { version: '1', knownOffers: offers })).not.toThrow();
  });
});
