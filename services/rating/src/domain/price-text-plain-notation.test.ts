/**
 * Review (session 33, h17): decimal.js writes a value below 1e-7 or from 1e21 in exponent form
 * ("1e-7", "1.2345e+29") when asked for toString(). The rating library's Decimal did, so a plan
 * version published before authoring refused 7+ decimals (it still rates) sent the rating result's
 * `pricePerUnit` as "1e-7", which usage passes on to wallets and wallets' price check refuses (it
 * takes plain decimal text only). Every text the rating library prints must be plain notation.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRater } from '../engine/cached-rater';
import { compilePlan } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { Decimal, isDecimalString } from './decimal';
import type { OfferDocument, PlanDocument } from './plan-types';
import { compileTariff } from './pricing';
import type { SubscriberContext, UsageEvent } from './usage';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
const mmsAbroad: UsageEvent = { id: 'mms-1', usageType: 'MMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678', roamingCountry: 'US' };

describe('price texts are plain decimal notation, never exponent form', () => {
  it("a tariff's pricePerUnit text and increments keep the plan's digits for tiny and huge values", () => {
    const tiny = compileTariff('tiny', { unit: 'EVENT', pricePerUnit: '0.0000001', increments: { first: '0.00000005', next: '0.00000005' } } as never);
    expect(tiny.pricePerUnitText).toBe('0.0000001');
    expect(tiny.increments).toEqual({ first: '0.00000005', next: '0.00000005' });
    expect(compileTariff('finer', { unit: 'EVENT', pricePerUnit: '0.00000012' } as never).pricePerUnitText).toBe('0.00000012');
    const huge = '123456789012345678901234567890';
    expect(compileTariff('huge', { unit: 'EVENT', pricePerUnit: huge } as never).pricePerUnitText).toBe(huge);
  });

  it("the rating library's Decimal prints results of its arithmetic in plain notation", () => {
    expect(new Decimal('0.000003').div(30).toString()).toBe('0.0000001');
    expect(new Decimal(1).div('100000000').toString()).toBe('0.00000001');
    expect(new Decimal('1e21').toString()).toBe('1000000000000000000000');
  });

  it('a published version with a 7-decimal pricePerUnit rates with pricePerUnit "0.0000001" (plain and cached rater)', async () => {
    const plan = read<PlanDocument>('plans/postpaid-20gb.json');
    const mms = plan.rules.find((r) => r.name === 'mms-roaming')!;
    (mms.event.params as unknown as Record<string, unknown>).pricePerUnit = '0.0000001';
    const compiled = compilePlan(plan, { version: '1', knownOffers });
    for (const result of [await ratePlain(compiled, mmsAbroad, ctx), await createRater(compiled).rate(mmsAbroad, ctx)]) {
      expect(result).toMatchObject({ decision: 'RATED', pricePerUnit: '0.0000001' });
      expect(isDecimalString(result.pricePerUnit)).toBe(true);
      expect(isDecimalString(result.price)).toBe(true);
    }
  });
});
