/**
 * A published plan version whose `rate` rule consumes an offer's allowance (FAMILY_SHARE_50GB's
 * roaming-pass-voice takes "roam-pass-voice" from the ROAM_WORLD_PASS_7D offer) stopped compiling
 * once the offer was changed: offers are not versioned (importOffer rewrites them, usage reads
 * catalog/offers as deployed), so removing or renaming the pass's voice allowance made the
 * immutable version's reference dangle, compilePlan threw PlanValidationError (UNKNOWN_ALLOWANCE)
 * and usage's plan cache answered PLAN_INVALID for good: every record of every line pinned to it
 * REJECTED, data and SMS at home included. A reference nothing grants is safe to rate (wallets find
 * no bucket of that id and charge the rule's price, as past any bucket; a pass bought before keeps
 * its bucket under the old id), so compiling treats it as a warning; authoring still refuses it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { validatePlan } from '../validation/validate-plan';
import { compilePlan } from './compile-plan';
import { ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));

const published = read<PlanDocument>('plans/family-share-50gb.json');
const boost = read<OfferDocument>('offers/data-boost-5gb.json');
/** The World pass as changed after the plan was published: data only, its voice allowance gone. */
const dataOnlyPass = ((): OfferDocument => {
  const pass = read<OfferDocument>('offers/roam-world-pass-7d.json');
  return { ...pass, allowances: pass.allowances.filter((allowance) => allowance.id !== 'roam-pass-voice') };
})();
const offersNow = [boost, dataOnlyPass];
const pointer = `/rules/${published.rules.findIndex((rule) => rule.name === 'roaming-pass-voice')}/event/params/allowanceId`;

const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE', lineCount: 3, activeAddOns: ['ROAM_WORLD_PASS_7D'] };
const at = '2026-03-03T10:00:00Z';

describe('a published version consuming an offer allowance the offer no longer has', () => {
  it('still compiles for rating, with the dangling reference as a warning at its pointer', async () => {
    let refusal: string | undefined;
    let compiled: ReturnType<typeof compilePlan> | undefined;
    try {
      compiled = compilePlan(published, { version: '3', knownOffers: offersNow });
    } catch (error) {
      refusal = (error as Error).message;
    }
    expect(refusal, 'lines pinned to the version must keep rating').toBeUndefined();
    expect(validatePlan(published, { knownOffers: offersNow, mode: 'rating' }).warnings?.map((w) => `${w.pointer} ${w.code}`)).toEqual([`${pointer} UNKNOWN_ALLOWANCE`]);

    const sms: UsageEvent = { id: 'sms-home', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: at, calledNumber: '+4915112345678' };
    expect((await ratePlain(compiled!, sms, ctx)).decision).toBe('RATED');
    // The WORLD1 call is rated as the version says: the pass's bucket first (a pass bought before has one), then its price.
    const call: UsageEvent = { id: 'call-us', usageType: 'VOICE', direction: 'OUTGOING', quantity: '90', occurredAt: at, calledNumber: '+4915112345678', roamingCountry: 'US' };
    const rated = await ratePlain(compiled!, call, ctx);
    expect(rated).toMatchObject({ decision: 'RATED', allowanceId: 'roam-pass-voice', chargedUnits: '90', pricePerUnit: '0.025' });
  });

  it('is still refused when authoring (a draft or publish naming it), at the same pointer', () => {
    const report = validatePlan(published, { knownOffers: offersNow });
    expect(report.valid).toBe(false);
    expect(report.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([`${pointer} UNKNOWN_ALLOWANCE`]);
  });
});
