/**
 * offerChangeProblems: which changes to an offer's document break a published plan version's
 * references, as validation (and so compiling for rating) resolves them. Only a reference made
 * worse counts: resolved → dangling or another unit, dangling → another unit.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Allowance, OfferDocument, PlanDocument } from '@ledgerline/rating';
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
});
