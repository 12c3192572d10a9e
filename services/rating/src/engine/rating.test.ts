import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { createRater } from './cached-rater';
import { compilePlan, PlanValidationError } from './compile-plan';
import { checkEligibility } from './eligibility';
import { noticesAfterPlain, ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = [read<OfferDocument>('offers/data-boost-5gb.json'), read<OfferDocument>('offers/roam-world-pass-7d.json')];
const postpaid = compilePlan(read<PlanDocument>('plans/postpaid-20gb.json'), { version: '3', knownOffers });
const payg = compilePlan(read<PlanDocument>('plans/prepaid-payg.json'), { version: '1', knownOffers });
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE', allowanceUsedRatios: { data: '0.2' } };
const call = (overrides: Partial<UsageEvent> = {}): UsageEvent => ({
  id: 'e1', usageType: 'VOICE', direction: 'OUTGOING', quantity: '61', occurredAt: '2025-03-14T10:00:00Z', calledNumber: '+4930123456', ...overrides,
});

describe('rating', () => {
  it('rates a national call from the voice allowance, per second after the first minute', async () => {
    const result = await ratePlain(postpaid, call(), ctx);
    expect(result).toMatchObject({ decision: 'RATED', allowanceId: 'voice', unit: 'SECOND', chargedUnits: '61', pricePerUnit: '0.0015', basePrice: '0.091500', price: '0.091500', planVersion: '3', currency: 'EUR' });
    expect(result.trace.map((entry) => entry.rule)).toEqual(['voice-unlimited']);
  });

  it('applies the night discount to international calls in the plan timezone', async () => {
    // 22:30Z on a Friday in March is 23:30 in Berlin: NIGHT.
    const night = await ratePlain(postpaid, call({ calledNumber: '+12125550123', quantity: '600', occurredAt: '2025-03-14T22:30:00Z' }), ctx);
    expect(night.basePrice).toBe('6.000000');
    expect(night.price).toBe('3.000000');
    expect(night.adjustments).toEqual([{ rule: 'night-international-discount', kind: 'DISCOUNT', scope: 'EVENT', percent: '50', applied: '3.000000', label: 'Night calls abroad half price' }]);
  });

  it('denies premium numbers on prepaid, and any usage on a suspended line', async () => {
    const premium = await ratePlain(payg, call({ calledNumber: '0900 123456' }), { ...ctx, accountType: 'PREPAID' });
    expect(premium).toMatchObject({ decision: 'DENIED', denyReason: 'PREMIUM_BARRED', price: '0' });
    const suspended = await ratePlain(postpaid, call(), { ...ctx, lineStatus: 'SUSPENDED' });
    expect(suspended).toMatchObject({ decision: 'DENIED', denyReason: 'LINE_SUSPENDED' });
  });

  it('notifies and offers the data boost at 80% of the data allowance, not at 79%', async () => {
    const data = call({ usageType: 'DATA', calledNumber: undefined, quantity: '12.34' });
    const at80 = await ratePlain(postpaid, data, { ...ctx, allowanceUsedRatios: { data: '0.80' } });
    expect(at80.notifications).toEqual([{ rule: 'notify-data-80', template: 'DATA_80_PERCENT', threshold: '0.8', channel: 'SMS', allowanceId: 'data' }]);
    expect(at80.offers).toEqual([{ rule: 'offer-data-boost-at-80', offerCode: 'DATA_BOOST_5GB' }]);
    expect(at80.chargedUnits).toBe('12.4');
    const at79 = await ratePlain(postpaid, data, { ...ctx, allowanceUsedRatios: { data: '0.79999' } });
    expect(at79.offers).toEqual([]);
    expect(at79.notifications.map((n) => n.template)).toEqual(['DATA_50_PERCENT']);
  });

  it('evaluates notify and offer rules on the usage after the event, pricing on the usage before it', async () => {
    const data = call({ usageType: 'DATA', calledNumber: undefined, quantity: '12.34' });
    const before = { ...ctx, allowanceUsedRatios: { data: '0.79' } };
    const after = { ...ctx, allowanceUsedRatios: { data: '0.81' } };
    const rater = createRater(postpaid);
    const rated = await rater.rate(data, before);
    expect(rated.notifications.map((n) => n.template)).toEqual(['DATA_50_PERCENT']);
    // The event that takes the bundle past 80 % asks for the 80 % notice and the offer itself.
    const settled = rater.tryNoticesAfterSync(rated, data, after) ?? (await rater.noticesAfter(rated, data, after));
    expect(settled.notifications).toEqual([{ rule: 'notify-data-80', template: 'DATA_80_PERCENT', threshold: '0.8', channel: 'SMS', allowanceId: 'data' }]);
    expect(settled.offers).toEqual([{ rule: 'offer-data-boost-at-80', offerCode: 'DATA_BOOST_5GB' }]);
    expect(settled.trace.map((t) => t.rule)).not.toContain('notify-data-50');
    expect(settled.trace.map((t) => t.rule)).toEqual(expect.arrayContaining(['notify-data-80', 'offer-data-boost-at-80']));
    // Pricing is what the usage before the event gave; the facts say both states.
    expect({ ...settled, notifications: rated.notifications, offers: rated.offers, trace: rated.trace, factsAfter: undefined }).toEqual({ ...rated, factsAfter: undefined });
    expect(settled.facts.allowanceUsedRatio).toBe('0.79');
    expect(settled.factsAfter).toEqual({ allowanceUsedRatio: '0.81' });
    expect(await noticesAfterPlain(postpaid, rated, data, after)).toEqual(settled);
    // Within one band, nothing changes but the recorded state.
    const inBand = rater.tryNoticesAfterSync(rated, data, { ...ctx, allowanceUsedRatios: { data: '0.795' } })!;
    expect(inBand).toEqual({ ...rated, factsAfter: { allowanceUsedRatio: '0.795' } });
    // A denied event counts nothing: its result stands.
    const suspended = await rater.rate(data, { ...before, lineStatus: 'SUSPENDED' });
    expect(rater.tryNoticesAfterSync(suspended, data, after)).toBe(suspended);
  });

  it('uses the roaming pass bucket when the pass is active in WORLD1', async () => {
    const roaming = call({ usageType: 'DATA', calledNumber: undefined, quantity: '10', roamingCountry: 'US' });
    expect((await ratePlain(postpaid, roaming, ctx)).allowanceId).toBeUndefined();
    expect((await ratePlain(postpaid, roaming, { ...ctx, activeAddOns: ['ROAM_WORLD_PASS_7D'] })).allowanceId).toBe('roam-pass-data');
  });

  it('denies with NO_TARIFF when no rate rule applies', async () => {
    const result = await ratePlain(payg, call({ usageType: 'CONTENT', calledNumber: undefined, quantity: '1' }), ctx);
    expect(result).toMatchObject({ decision: 'DENIED', denyReason: 'NO_TARIFF' });
  });

  it('rejects a malformed event with a stable code on both paths', async () => {
    const bad = call({ quantity: '1e3' });
    await expect(ratePlain(postpaid, bad, ctx)).rejects.toMatchObject({ code: 'RATING_INVALID_EVENT' });
    expect(() => createRater(postpaid).tryRateSync(bad, ctx)).toThrow(/quantity/);
  });

  it('records exactly the facts the rules read', () => {
    expect(postpaid.readFacts).toEqual(['activeAddOns', 'allowanceUsedRatio', 'dayType', 'destinationZone', 'direction', 'premiumNumber', 'roamingZone', 'timeBand', 'usageType']);
  });

  it('answers from the cache synchronously after the first evaluation, with the same result', async () => {
    const rater = createRater(postpaid);
    expect(rater.tryRateSync(call(), ctx)).toBeUndefined();
    const first = await rater.rate(call(), ctx);
    const second = rater.tryRateSync(call({ id: 'e2', quantity: '61' }), ctx);
    expect(second).toEqual({ ...first, eventId: 'e2' });
    expect(rater.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('keeps results when many evaluations are started at once on one engine', async () => {
    const events = Array.from({ length: 50 }, (_, i) => call({ id: `c${i}`, quantity: String(60 + i) }));
    const results = await Promise.all(events.map((event) => ratePlain(postpaid, event, ctx)));
    expect(results.every((result) => result.decision === 'RATED' && result.allowanceId === 'voice')).toBe(true);
  });

  it('refuses to compile an invalid plan, listing the problems', () => {
    const broken = { ...read<PlanDocument>('plans/postpaid-20gb.json'), currency: 'EURO' };
    expect(() => compilePlan(broken, { version: '1', knownOffers })).toThrow(PlanValidationError);
  });

  it('checks eligibility with the plan conditions', async () => {
    const facts = { accountType: 'POSTPAID', customerType: 'INDIVIDUAL', lineCount: 1, tenureMonths: 0 } as const;
    expect(await checkEligibility(postpaid, { ...facts, creditClass: 'B' })).toEqual({ eligible: true });
    expect(await checkEligibility(postpaid, { ...facts, creditClass: 'D' })).toMatchObject({ eligible: false });
  });
});
