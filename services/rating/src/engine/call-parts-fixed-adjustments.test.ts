import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { createRater } from './cached-rater';
import { compilePlan } from './compile-plan';
import { ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = [read<OfferDocument>('offers/data-boost-5gb.json'), read<OfferDocument>('offers/roam-world-pass-7d.json')];
const postpaidDoc = read<PlanDocument>('plans/postpaid-20gb.json');
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
// Brazil is WORLD2; Friday 11:00 in Berlin is PEAK: roaming-world-voice (0.025/s, first 60 then per second) and the 0.10 connection fee.
const call = (quantity: string, precedingQuantity?: string): UsageEvent => ({
  id: `part-${precedingQuantity ?? '0'}`, usageType: 'VOICE', direction: 'OUTGOING', quantity, occurredAt: '2025-03-14T10:00:00Z', calledNumber: '+4930123456', roamingCountry: 'BR',
  ...(precedingQuantity !== undefined ? { precedingQuantity } : {}),
});
/** 150 s as an online session reports it: 60 s, 60 s more, 30 s more. */
const parts = [call('60'), call('60', '60'), call('30', '120')];
const total = (prices: string[]) => prices.reduce((sum, price) => sum.plus(price), new Decimal(0)).toFixed(6);

describe('a fixed-amount EVENT adjustment on a call rated in parts (precedingQuantity)', () => {
  it('is charged once per call, as for the call rated as one event (shipped WORLD2 peak connection fee)', async () => {
    const compiled = compilePlan(postpaidDoc, { version: '1', knownOffers });
    const whole = await ratePlain(compiled, call('150'), ctx);
    expect(whole).toMatchObject({ chargedUnits: '150', basePrice: '3.750000', price: '3.850000' });
    const plain = await Promise.all(parts.map((part) => ratePlain(compiled, part, ctx)));
    const rater = createRater(compiled);
    const cached = await Promise.all(parts.map((part) => rater.rate(part, ctx)));
    for (const rated of [plain, cached]) {
      expect(total(rated.map((r) => r.price))).toBe(whole.price);
      expect(rated.map((r) => r.price)).toEqual(['1.600000', '1.500000', '0.750000']);
      // The later parts still trace the rule; nothing more is applied.
      expect(rated[1].adjustments).toEqual([expect.objectContaining({ rule: 'roaming-world-surcharge-peak', amount: '0.10', applied: '0.000000' })]);
    }
  });

  it('a fixed-amount EVENT discount is given once per call too', async () => {
    const doc = structuredClone(postpaidDoc);
    const rule = doc.rules.find((r) => r.name === 'roaming-world-surcharge-peak')!;
    rule.event = { type: 'discount', params: { amount: '0.50', scope: 'EVENT', label: 'WORLD2 peak call credit' } } as typeof rule.event;
    const compiled = compilePlan(doc, { version: '1', knownOffers });
    const whole = await ratePlain(compiled, call('150'), ctx);
    expect(whole.price).toBe('3.250000');
    const rated = await Promise.all(parts.map((part) => ratePlain(compiled, part, ctx)));
    expect(total(rated.map((r) => r.price))).toBe(whole.price);
  });

  it('a percent adjustment still applies to every part (it is proportional)', async () => {
    const doc = structuredClone(postpaidDoc);
    const rule = doc.rules.find((r) => r.name === 'roaming-world-surcharge-peak')!;
    rule.event = { type: 'surcharge', params: { percent: '10', scope: 'EVENT' } } as typeof rule.event;
    const compiled = compilePlan(doc, { version: '1', knownOffers });
    const whole = await ratePlain(compiled, call('150'), ctx);
    const rated = await Promise.all(parts.map((part) => ratePlain(compiled, part, ctx)));
    expect(whole.price).toBe('4.125000');
    expect(total(rated.map((r) => r.price))).toBe(whole.price);
  });
});
