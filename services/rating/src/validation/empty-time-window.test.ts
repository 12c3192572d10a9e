/**
 * A time-band window with `from` equal to `to` (review, 2026-11-29). The catalog README defines a
 * window as `from` inclusive, `to` exclusive, wrapping midnight when `to` is before `from`: 00:00 →
 * 00:00 (or 22:00 → 22:00) is empty, matches no minute, and its band silently never applies. It was
 * accepted. Authoring now refuses it as EMPTY_TIME_WINDOW at the window's `to`; all day is written
 * 00:00 → 24:00. Authoring-only: a version published with one keeps rating as it did.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8')) as T;
const offers = ['data-boost-5gb.json', 'roam-world-pass-7d.json'].map((f) => read<OfferDocument>(`offers/${f}`));
const withWindow = (from: string, to: string): PlanDocument => {
  const plan = read<PlanDocument>('plans/postpaid-20gb.json');
  plan.timeBands!.windows[0] = { ...plan.timeBands!.windows[0], from, to };
  return plan;
};
const problemsOf = (plan: PlanDocument) => validatePlan(plan, { knownOffers: offers }).problems.map((p) => `${p.pointer} ${p.code}`);

describe('a time window that starts where it ends', () => {
  it('00:00 → 00:00, 22:00 → 22:00 and 24:00 → 00:00 match no minute: EMPTY_TIME_WINDOW at the window\'s to', () => {
    for (const [from, to] of [['00:00', '00:00'], ['22:00', '22:00'], ['24:00', '00:00'], ['24:00', '24:00']]) {
      expect({ from, to, problems: problemsOf(withWindow(from, to)) }).toEqual({ from, to, problems: ['/timeBands/windows/0/to EMPTY_TIME_WINDOW'] });
    }
    const [problem] = validatePlan(withWindow('00:00', '00:00'), { knownOffers: offers }).problems;
    expect(problem.message).toMatch(/00:00.*24:00/);
  });

  it('all day is 00:00 → 24:00, and matches every minute', () => {
    const plan = withWindow('00:00', '24:00');
    expect(problemsOf(plan)).toEqual([]);
    const compiled = compilePlan(plan, { version: '1', knownOffers: offers });
    for (const at of ['2026-03-02T00:00:00Z', '2026-03-02T11:59:00Z', '2026-03-02T22:59:00Z']) {
      expect({ at, band: compiled.tables.timeBand(Date.parse(at)) }).toEqual({ at, band: 'NIGHT' });
    }
  });

  it('a version published with an empty window keeps rating, with the warning', () => {
    const plan = withWindow('00:00', '00:00');
    expect(() => compilePlan(plan, { version: '1', knownOffers: offers })).not.toThrow();
    const report = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: report.valid, warnings: (report.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: ['/timeBands/windows/0/to EMPTY_TIME_WINDOW'] });
  });
});
