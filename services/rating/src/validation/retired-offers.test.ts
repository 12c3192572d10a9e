/**
 * Review (session 33): a new plan version could name an offer the catalog no longer sells. The catalog
 * validated `offer` rules and `compatibleOffers` against every offer, retired ones included, so a
 * version published after DATA_BOOST_5GB was retired upsold it (subscribers then refuses to sell it:
 * OFFER_RETIRED) and listed it as compatible. With `retiredOffers` (the catalog passes the codes of
 * its RETIRED offers) each such reference is OFFER_RETIRED at its pointer; authoring-only, so a
 * version published before the retirement still compiles and rates.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));
const postpaid = () => read<PlanDocument>('plans/postpaid-20gb.json');
const codes = (problems: { pointer: string; code: string }[] | undefined) => (problems ?? []).map(({ pointer, code }) => ({ pointer, code }));

describe('a plan naming a retired offer (OFFER_RETIRED)', () => {
  it('reports the offer rule and the compatibleOffers entry naming it, each at its pointer', () => {
    const plan = postpaid();
    const rule = plan.rules.findIndex((r) => r.event.type === 'offer' && r.event.params.offerCode === 'DATA_BOOST_5GB');
    const listed = plan.compatibleOffers!.indexOf('DATA_BOOST_5GB');
    const report = validatePlan(plan, { knownOffers, retiredOffers: ['DATA_BOOST_5GB'] });
    expect(report.valid).toBe(false);
    expect(codes(report.problems)).toEqual([
      { pointer: `/compatibleOffers/${listed}`, code: 'OFFER_RETIRED' },
      { pointer: `/rules/${rule}/event/params/offerCode`, code: 'OFFER_RETIRED' },
    ]);
    expect(report.problems[0].message).toContain('DATA_BOOST_5GB');
  });

  it('accepts offers still on sale, and a plan add-on of the same code (the plan sells its own)', () => {
    expect(validatePlan(postpaid(), { knownOffers, retiredOffers: ['SOME_OTHER_OFFER'] }).problems).toEqual([]);
    const bundle = read<PlanDocument>('plans/prepaid-bundle-30d.json');
    const addOn = bundle.addOns![0].code;
    expect(codes(validatePlan(bundle, { knownOffers, retiredOffers: [addOn] }).problems)).toEqual([]);
  });

  it('a version published before the retirement still compiles (a warning when rating)', () => {
    const report = validatePlan(postpaid(), { knownOffers, retiredOffers: ['DATA_BOOST_5GB'], mode: 'rating' });
    expect(report.valid).toBe(true);
    expect(codes(report.warnings).map((w) => w.code)).toEqual(['OFFER_RETIRED', 'OFFER_RETIRED']);
    expect(() => compilePlan(postpaid(), { version: '1', knownOffers })).not.toThrow();
  });
});
