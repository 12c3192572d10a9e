/**
 * Zone names the engine gives itself (review, 2026-11-29). `roamingZone` is HOME when the line is
 * not abroad, `destinationZone` is NONE when the event has no called number; a plan could declare a
 * roaming zone HOME or a destination zone NONE all the same, and a roaming zone HOME listing CH
 * rated CH roaming as home (its rules cannot tell the two apart). Authoring now refuses them as
 * RESERVED_ZONE_NAME at the name's pointer (a declared zone or a table's `default`). Authoring-only,
 * as every check added after versions were published: such a version keeps rating as published.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8')) as T;
const offers = ['data-boost-5gb.json', 'roam-world-pass-7d.json'].map((f) => read<OfferDocument>(`offers/${f}`));
const postpaid = () => read<PlanDocument>('plans/postpaid-20gb.json');
const problemsOf = (plan: PlanDocument) => validatePlan(plan, { knownOffers: offers }).problems.map((p) => `${p.pointer} ${p.code}`);

describe('built-in zone names are not a plan\'s to declare', () => {
  it('the shipped plans declare none', () => {
    for (const file of ['postpaid-20gb.json', 'prepaid-payg.json', 'prepaid-bundle-30d.json', 'business-pool.json', 'family-share-50gb.json', 'enterprise-committed-spend-usd.json']) {
      expect({ file, problems: problemsOf(read(`plans/${file}`)) }).toEqual({ file, problems: [] });
    }
  });

  it('a roaming zone named HOME (CH in it) is RESERVED_ZONE_NAME at its name; a published one still rates, CH as home, with the warning', async () => {
    const plan = postpaid();
    plan.zones.roaming!.zones.unshift({ zone: 'HOME', countries: ['CH'] });
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual(['/zones/roaming/zones/0/zone RESERVED_ZONE_NAME']);
    expect(report.problems[0].message).toMatch(/HOME.*not roaming/);
    expect(report.problems[0].authoringOnly).toBe(true);

    const rating = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: rating.valid, warnings: (rating.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: ['/zones/roaming/zones/0/zone RESERVED_ZONE_NAME'] });
    // What the check prevents: data in Switzerland rated from the home bundle.
    const result = await ratePlain(compilePlan(plan, { version: '1', knownOffers: offers }), { id: 'e', usageType: 'DATA', direction: 'OUTGOING', quantity: '10', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'CH' }, { accountType: 'POSTPAID', lineStatus: 'ACTIVE' });
    expect({ zone: result.facts.roamingZone, allowanceId: result.allowanceId }).toEqual({ zone: 'HOME', allowanceId: 'data' });
  });

  it('a destination zone named NONE is RESERVED_ZONE_NAME at its name', () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'NONE' });
    const at = plan.zones.destinations!.prefixes.length - 1;
    expect(problemsOf(plan)).toEqual([`/zones/destinations/prefixes/${at}/zone RESERVED_ZONE_NAME`]);
  });

  it('a table default named after the built-in zone is refused at the default', () => {
    const plan = postpaid();
    plan.zones.roaming!.default = 'HOME';
    plan.zones.destinations!.default = 'NONE';
    expect(problemsOf(plan)).toEqual(expect.arrayContaining(['/zones/roaming/default RESERVED_ZONE_NAME', '/zones/destinations/default RESERVED_ZONE_NAME']));
  });

  it('a destination zone named HOME (or a destinations default HOME) is RESERVED_ZONE_NAME: HOME is what invoices call home usage, and roamingZone\'s not roaming', () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'HOME' });
    const at = plan.zones.destinations!.prefixes.length - 1;
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`/zones/destinations/prefixes/${at}/zone RESERVED_ZONE_NAME`]);
    expect(report.problems[0].message).toMatch(/HOME.*invoice/);
    expect(report.problems[0].authoringOnly).toBe(true);
    const withDefault = postpaid();
    withDefault.zones.destinations!.default = 'HOME';
    // (the rules naming the old default also report it as INVALID_FACT_VALUE)
    expect(problemsOf(withDefault).filter((p) => p.endsWith('RESERVED_ZONE_NAME'))).toEqual(['/zones/destinations/default RESERVED_ZONE_NAME']);
  });

  it('a published version with a destination zone HOME keeps rating (+41 calls in zone HOME), with the warning', async () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'HOME' });
    const at = plan.zones.destinations!.prefixes.length - 1;
    const rating = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: rating.valid, warnings: (rating.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: [`/zones/destinations/prefixes/${at}/zone RESERVED_ZONE_NAME`] });
    const result = await ratePlain(compilePlan(plan, { version: '1', knownOffers: offers }), { id: 'e', usageType: 'VOICE', direction: 'OUTGOING', quantity: '60', occurredAt: '2026-03-02T10:00:00Z', calledNumber: '+41441234567' }, { accountType: 'POSTPAID', lineStatus: 'ACTIVE' });
    expect(result.facts.destinationZone).toBe('HOME');
  });

  it('a destination zone named like a roaming label (ROAMING_EU, ROAMING_X; or such a default) is RESERVED_ZONE_NAME: invoices would bill it together with roaming in that zone', () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'ROAMING_EU' }, { prefix: '+43', zone: 'ROAMING_X' });
    const at = plan.zones.destinations!.prefixes.length - 2;
    const report = validatePlan(plan, { knownOffers: offers });
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`/zones/destinations/prefixes/${at}/zone RESERVED_ZONE_NAME`, `/zones/destinations/prefixes/${at + 1}/zone RESERVED_ZONE_NAME`]);
    expect(report.problems[0].message).toMatch(/ROAMING_EU.*roaming.*invoice/);
    expect(report.problems[0].authoringOnly).toBe(true);
    const withDefault = postpaid();
    withDefault.zones.destinations!.default = 'ROAMING_WORLD1';
    expect(problemsOf(withDefault).filter((p) => p.endsWith('RESERVED_ZONE_NAME'))).toEqual(['/zones/destinations/default RESERVED_ZONE_NAME']);
  });

  it('names outside the roaming label namespace stay ordinary destination zones (ROAMING, ROAMINGEU, EU_ROAMING_1)', () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'ROAMING' }, { prefix: '+43', zone: 'ROAMINGEU' }, { prefix: '+45', zone: 'EU_ROAMING_1' });
    expect(problemsOf(plan).filter((p) => p.endsWith('RESERVED_ZONE_NAME'))).toEqual([]);
  });

  it('other cases of the reserved names are refused by the schema, as for HOME: zone names are upper case', () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'home' }, { prefix: '+43', zone: 'roaming_eu' }, { prefix: '+45', zone: 'Roaming_EU' });
    const at = plan.zones.destinations!.prefixes.length - 3;
    expect(problemsOf(plan).filter((p) => p.includes(`/zones/destinations/prefixes/`) && !p.endsWith('AMBIGUOUS_TARIFF'))).toEqual([0, 1, 2].map((i) => `/zones/destinations/prefixes/${at + i}/zone INVALID_FORMAT`));
  });

  it('a published version with a destination zone ROAMING_EU keeps rating (+41 calls in that zone), with the warning', async () => {
    const plan = postpaid();
    plan.zones.destinations!.prefixes.push({ prefix: '+41', zone: 'ROAMING_EU' });
    const at = plan.zones.destinations!.prefixes.length - 1;
    const rating = validatePlan(plan, { knownOffers: offers, mode: 'rating' });
    expect({ valid: rating.valid, warnings: (rating.warnings ?? []).map((p) => `${p.pointer} ${p.code}`) }).toEqual({ valid: true, warnings: [`/zones/destinations/prefixes/${at}/zone RESERVED_ZONE_NAME`] });
    const result = await ratePlain(compilePlan(plan, { version: '1', knownOffers: offers }), { id: 'e', usageType: 'VOICE', direction: 'OUTGOING', quantity: '60', occurredAt: '2026-03-02T10:00:00Z', calledNumber: '+41441234567' }, { accountType: 'POSTPAID', lineStatus: 'ACTIVE' });
    expect(result.facts.destinationZone).toBe('ROAMING_EU');
  });

  it('a roaming zone NONE is an ordinary name: NONE means nothing for roamingZone, and invoices show it as ROAMING_NONE', () => {
    const plan = postpaid();
    plan.zones.roaming!.zones.push({ zone: 'NONE', countries: ['AD'] });
    expect(problemsOf(plan).filter((p) => p.endsWith('RESERVED_ZONE_NAME'))).toEqual([]);
  });
});
