/**
 * offerChangeProblems: which changes to an offer's document break a published plan version's
 * references, as validation (and so compiling for rating) resolves them. Only a reference made
 * worse counts: resolved → dangling or another unit, dangling → another unit.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePlan, ratePlain, validatePlan, type Allowance, type OfferDocument, type PlanDocument, type SubscriberContext, type UsageEvent } from '@ledgerline/rating';
import { offerChangeProblems, type PublishedVersion } from './offer-references';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8')) as T;
const pass = read<OfferDocument>('offers/roam-world-pass-7d.json');
const boost = read<OfferDocument>('offers/data-boost-5gb.json');
const family = read<PlanDocument>('plans/family-share-50gb.json');
const voiceRule = `/rules/${family.rules.findIndex((r) => r.name === 'roaming-pass-voice')}/event/params/allowanceId`;
const dataRule = `/rules/${family.rules.findIndex((r) => r.name === 'roaming-pass-data')}/event/params/allowanceId`;

const version = (document: PlanDocument, v = 1): PublishedVersion => ({ planCode: document.code, version: v, planVersionId: `plv_${v}`, document });
const withAllowances = (offer: OfferDocument, allowances: Allowance[]): OfferDocument => ({ ...offer, allowances });
const summary = (problems: ReturnType<typeof offerChangeProblems>) => problems.map((p) => `${p.pointer} ${p.code} ${p.planVersions.map((v) => `${v.planCode}@${v.version}${v.rules.join(',')}`).join(' ')}`);

describe('offerChangeProblems', () => {
  it('the same document, new terms of a consumed allowance, another offer: no problem', () => {
    const offers = [boost, pass];
    const versions = [version(family)];
    expect(offerChangeProblems({ offers, stored: pass, imported: pass, versions })).toEqual([]);
    const bigger = withAllowances(pass, pass.allowances.map((a) => ({ ...a, quantity: '9999', validity: { days: 3 } })));
    expect(offerChangeProblems({ offers, stored: pass, imported: { ...bigger, price: '1.00' }, versions })).toEqual([]);
    expect(offerChangeProblems({ offers, stored: boost, imported: withAllowances(boost, []), versions })).toEqual([]);
  });

  it('a dropped allowance at /allowances, a changed unit at /allowances/i/unit, each naming the versions and rules', () => {
    const renamed = withAllowances(pass, [{ ...pass.allowances[0], unit: 'SECOND' }, { ...pass.allowances[1], id: 'roam-pass-calls' }]);
    const problems = offerChangeProblems({ offers: [boost, pass], stored: pass, imported: renamed, versions: [version(family, 1), version(family, 2)] });
    expect(summary(problems)).toEqual([
      `/allowances ALLOWANCE_IN_USE FAMILY_SHARE_50GB@1${voiceRule} FAMILY_SHARE_50GB@2${voiceRule}`,
      `/allowances/0/unit ALLOWANCE_UNIT_IN_USE FAMILY_SHARE_50GB@1${dataRule} FAMILY_SHARE_50GB@2${dataRule}`,
    ]);
    expect(problems[0].message).toContain('"roam-pass-voice"');
  });

  it('an allowance the plan grants itself is not the offer\'s: changing the offer\'s copy breaks nothing', () => {
    const own = structuredClone(family);
    own.allowances.push({ ...pass.allowances[1] });
    expect(offerChangeProblems({ offers: [boost, pass], stored: pass, imported: withAllowances(pass, [pass.allowances[0]]), versions: [version(own)] })).toEqual([]);
  });

  it('another offer still granting the id (first in code order) keeps the reference: no problem', () => {
    const twin: OfferDocument = { ...pass, code: 'AAA_TWIN_PASS', allowances: [pass.allowances[1]] };
    expect(offerChangeProblems({ offers: [twin, boost, pass], stored: pass, imported: withAllowances(pass, [pass.allowances[0]]), versions: [version(family)] })).toEqual([]);
  });

  it('a reference already dangling: dropping is nothing new, granting it in another unit is (the version would stop compiling)', () => {
    const dataOnly = withAllowances(pass, [pass.allowances[0]]);
    expect(offerChangeProblems({ offers: [boost, dataOnly], stored: dataOnly, imported: withAllowances(pass, []), versions: [version(family)] }).map((p) => p.pointer)).toEqual(['/allowances']);
    // (above: the data allowance, which still resolved before; the voice one dangled already and is not reported)
    const calls = withAllowances(dataOnly, [...dataOnly.allowances, { ...pass.allowances[1], unit: 'ITEM' }]);
    const problems = offerChangeProblems({ offers: [boost, dataOnly], stored: dataOnly, imported: calls, versions: [version(family)] });
    expect(summary(problems)).toEqual([`/allowances/1/unit ALLOWANCE_UNIT_IN_USE FAMILY_SHARE_50GB@1${voiceRule}`]);
    expect(problems[0].message).toContain('UNIT_MISMATCH');
  });

  it('a new offer taking over an id with another unit (it comes first in code order) is a problem; put last, it is not', () => {
    const shadow: OfferDocument = { ...pass, code: 'AAA_SHADOW', allowances: [{ ...pass.allowances[0], unit: 'SECOND' }] };
    const inOrder = offerChangeProblems({ offers: [shadow, boost, pass], stored: null, imported: shadow, versions: [version(family)] });
    expect(summary(inOrder)).toEqual([`/allowances/0/unit ALLOWANCE_UNIT_IN_USE FAMILY_SHARE_50GB@1${dataRule}`]);
    expect(offerChangeProblems({ offers: [boost, pass], stored: null, imported: { ...shadow, code: 'ZZZ_SHADOW' }, versions: [version(family)] })).toEqual([]);
  });

  // Guard (passes before and after): an offer allowance's usageTypes are not part of any reference.
  // Rating takes a rate rule's bucket by its allowanceId (the rule's own conditions pick the usage),
  // `allowanceUsedRatio` reads the plan's and its add-ons' allowances only (derive-facts.ts), and
  // subscribers grant an add-on's buckets from id, unit, quantity and days (catalog-client.ts): a
  // changed usageTypes list does not change how any published version rates, so it is not breaking.
  it('a changed usageTypes of a consumed allowance: no problem, and the published version rates exactly as before', async () => {
    const voiceTyped = withAllowances(pass, pass.allowances.map((a) => (a.id === 'roam-pass-data' ? { ...a, usageTypes: ['VOICE' as const] } : a)));
    expect(offerChangeProblems({ offers: [boost, pass], stored: pass, imported: voiceTyped, versions: [version(family)] })).toEqual([]);
    expect(validatePlan(family, { knownOffers: [boost, voiceTyped] })).toEqual(validatePlan(family, { knownOffers: [boost, pass] }));
    const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE', lineCount: 3, activeAddOns: ['ROAM_WORLD_PASS_7D'], allowanceUsedRatios: { 'roam-pass-data': '0.5', 'family-data': '0.9' } };
    const data: UsageEvent = { id: 'data-us', usageType: 'DATA', direction: 'OUTGOING', quantity: '12.3', occurredAt: '2026-03-03T10:00:00Z', roamingCountry: 'US' };
    const rate = (offers: OfferDocument[]) => ratePlain(compilePlan(family, { version: '1', knownOffers: offers }), data, ctx);
    const before = await rate([boost, pass]);
    expect(before).toMatchObject({ decision: 'RATED', allowanceId: 'roam-pass-data' });
    expect(await rate([boost, voiceTyped])).toEqual(before);
  });
});
