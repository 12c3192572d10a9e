/**
 * A fixed-amount EVENT discount on a call rated in parts (brief catalogrules, 2026-11-30). Since
 * 214d975 an `amount` adjustment is per call: the first part of an online session (no
 * precedingQuantity) takes it and a later part lists it with nothing applied. For a surcharge that is
 * the call's price; for a discount it is not: the first part can take at most its own price, so the
 * rest of the discount was lost. A 0.50 discount on a call whose first report costs 0.20 and whole
 * call 1.00 gave 0.20 off online and 0.50 off as one CDR. Decided as the plan means it and the CDR
 * rates it: the discount is per call, capped at the call's price, so a later part takes what the
 * call's earlier parts left of it (at most its own price), and its adjustment says so
 * (`usedByEarlierParts`, `leftForThisPart`). What the earlier parts took is what they take as the
 * call's first units rated as one event, under the same rules: so the parts add up to the CDR.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import type { OfferDocument, PlanDocument, PlanRule, PriceTable } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { createRater } from './cached-rater';
import { compilePlan, type CompiledPlan } from './compile-plan';
import { ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = [read<OfferDocument>('offers/data-boost-5gb.json'), read<OfferDocument>('offers/roam-world-pass-7d.json')];
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
const sum = (prices: string[]) => prices.reduce((total, price) => total.plus(price), new Decimal(0)).toFixed(6);

/** One national call tariff, per second, no minimum, and the given EVENT adjustments. */
function voicePlan(rate: Record<string, unknown>, adjustments: Array<Record<string, unknown>>): CompiledPlan {
  const isVoice = { all: [{ fact: 'usageType', operator: 'equal', value: 'VOICE' }] };
  const doc = {
    code: 'CALL_CREDIT', name: 'Call credit', description: 'A call credit per call', paymentMode: 'POSTPAID', currency: 'EUR',
    timezone: 'Europe/Berlin', taxCategory: 'TELECOM_STANDARD', zones: { homeCountry: 'DE' }, allowances: [],
    rules: [
      { name: 'voice', priority: 5, conditions: isVoice, event: { type: 'rate', params: { unit: 'SECOND', ...rate } } },
      ...adjustments.map((event, i) => ({ name: `adjustment-${i}`, priority: 5 - i, conditions: isVoice, event })),
    ],
  } as unknown as PlanDocument;
  return compilePlan(doc, { version: '1' });
}

const credit = (amount: string) => ({ type: 'discount', params: { amount, scope: 'EVENT', label: 'Call credit' } });
const call = (quantity: string, precedingQuantity?: string): UsageEvent => ({
  id: `part-${precedingQuantity ?? '0'}`, usageType: 'VOICE', direction: 'OUTGOING', quantity, occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4930123456',
  ...(precedingQuantity !== undefined ? { precedingQuantity } : {}),
});

/** Rates the call as one CDR and as its parts (plain and cached rater), checks they agree, returns the parts' results. */
async function asCdrAndParts(compiled: CompiledPlan, quantities: string[], contexts?: SubscriberContext[]) {
  const total = quantities.reduce((t, q) => t.plus(q), new Decimal(0)).toString();
  const whole = await ratePlain(compiled, call(total), contexts?.[0] ?? ctx);
  let before = new Decimal(0);
  const events = quantities.map((q) => {
    const event = call(q, before.isZero() ? undefined : before.toString());
    before = before.plus(q);
    return event;
  });
  const plain = await Promise.all(events.map((event, i) => ratePlain(compiled, event, contexts?.[i] ?? ctx)));
  const rater = createRater(compiled);
  const cached = await Promise.all(events.map((event, i) => rater.rate(event, contexts?.[i] ?? ctx)));
  expect(cached.map((r) => [r.price, r.adjustments])).toEqual(plain.map((r) => [r.price, r.adjustments]));
  return { whole, parts: plain };
}

describe('a fixed-amount EVENT discount on a call rated in parts', () => {
  it('the brief: 0.50 off a call of 1.00 whose first report costs 0.20 is 0.50 off online too, not 0.20', async () => {
    const { whole, parts } = await asCdrAndParts(voicePlan({ pricePerUnit: '0.01' }, [credit('0.50')]), ['20', '80']);
    expect(whole).toMatchObject({ basePrice: '1.000000', price: '0.500000' });
    expect(parts.map((r) => r.price)).toEqual(['0.000000', '0.500000']);
    expect(sum(parts.map((r) => r.price))).toBe(whole.price);
    // The first part takes what it can; the later one the rest, and its adjustment traces it.
    expect(parts[0].adjustments).toEqual([expect.objectContaining({ kind: 'DISCOUNT', amount: '0.50', applied: '0.200000' })]);
    expect(parts[0].adjustments[0]).not.toHaveProperty('usedByEarlierParts');
    expect(parts[1].adjustments).toEqual([{ rule: 'adjustment-0', kind: 'DISCOUNT', scope: 'EVENT', amount: '0.50', applied: '0.300000', usedByEarlierParts: '0.200000', leftForThisPart: '0.300000', label: 'Call credit' }]);
  });

  it('the rest is carried over as many parts as it takes, never past the call\'s price', async () => {
    const { whole, parts } = await asCdrAndParts(voicePlan({ pricePerUnit: '0.01' }, [credit('0.50')]), ['20', '20', '60']);
    expect(parts.map((r) => [r.price, r.adjustments[0].applied])).toEqual([['0.000000', '0.200000'], ['0.000000', '0.200000'], ['0.500000', '0.100000']]);
    expect(parts[2].adjustments[0]).toMatchObject({ usedByEarlierParts: '0.400000', leftForThisPart: '0.100000' });
    expect(sum(parts.map((r) => r.price))).toBe(whole.price);
    // A credit bigger than the whole call: the call is free, no part below zero.
    const free = await asCdrAndParts(voicePlan({ pricePerUnit: '0.01' }, [credit('5.00')]), ['20', '20', '60']);
    expect(free.whole.price).toBe('0.000000');
    expect(free.parts.map((r) => r.price)).toEqual(['0.000000', '0.000000', '0.000000']);
    expect(free.parts[2].adjustments[0]).toMatchObject({ applied: '0.600000', usedByEarlierParts: '0.400000', leftForThisPart: '4.600000' });
  });

  it('after a percent surcharge, and on an EVENT-basis price table', async () => {
    const surcharged = await asCdrAndParts(voicePlan({ pricePerUnit: '0.01' }, [{ type: 'surcharge', params: { percent: '10', scope: 'EVENT' } }, credit('0.50')]), ['20', '80']);
    expect(surcharged.whole.price).toBe('0.600000');
    expect(surcharged.parts.map((r) => r.price)).toEqual(['0.000000', '0.600000']);
    expect(surcharged.parts[1].adjustments[1]).toMatchObject({ applied: '0.280000', usedByEarlierParts: '0.220000' });
    const table: PriceTable = { model: 'GRADUATED', basis: 'EVENT', tiers: [{ upTo: '50', unitPrice: '0.01' }, { upTo: null, unitPrice: '0.005' }] };
    const tiered = await asCdrAndParts(voicePlan({ priceTable: table }, [credit('0.50')]), ['20', '80']);
    expect(tiered.whole).toMatchObject({ basePrice: '0.750000', price: '0.250000' });
    expect(sum(tiered.parts.map((r) => r.price))).toBe(tiered.whole.price);
  });

  it('on a PERIOD-basis table, the earlier parts priced where the period stood before the call', async () => {
    const table: PriceTable = { model: 'GRADUATED', basis: 'PERIOD', tiers: [{ upTo: '50', unitPrice: '0.01' }, { upTo: null, unitPrice: '0.005' }] };
    const compiled = voicePlan({ priceTable: table }, [credit('0.50')]);
    // 40 s of calls before; the first report's 20 s are counted before the second is rated (as usage counts them).
    const period = (seconds: string): SubscriberContext => ({ ...ctx, periodUsage: { VOICE: seconds } });
    const { whole, parts } = await asCdrAndParts(compiled, ['20', '80'], [period('40'), period('60')]);
    expect(whole).toMatchObject({ basePrice: '0.550000', price: '0.050000' });
    expect(parts.map((r) => r.price)).toEqual(['0.000000', '0.050000']);
    expect(parts[1].adjustments[0]).toMatchObject({ applied: '0.350000', usedByEarlierParts: '0.150000' });
  });

  it('the shipped WORLD2 call with its connection fee and a 2.00 credit: the fee once, the credit over the parts, as the CDR', async () => {
    const doc = read<PlanDocument>('plans/postpaid-20gb.json');
    const fee = doc.rules.find((r) => r.name === 'roaming-world-surcharge-peak')!;
    doc.rules.push({ ...fee, name: 'roaming-world-call-credit', event: credit('2.00') } as PlanRule);
    const compiled = compilePlan(doc, { version: '1', knownOffers });
    // Brazil is WORLD2; Friday 11:00 in Berlin is PEAK: 0.025/s after a 60 s minimum, 0.10 a call.
    const world2 = (quantity: string, precedingQuantity?: string): UsageEvent => ({ ...call(quantity, precedingQuantity), roamingCountry: 'BR', occurredAt: '2025-03-14T10:00:00Z' });
    const whole = await ratePlain(compiled, world2('150'), ctx);
    expect(whole).toMatchObject({ basePrice: '3.750000', price: '1.850000' });
    const parts = await Promise.all([world2('60'), world2('60', '60'), world2('30', '120')].map((event) => ratePlain(compiled, event, ctx)));
    expect(parts.map((r) => r.price)).toEqual(['0.000000', '1.100000', '0.750000']);
    expect(sum(parts.map((r) => r.price))).toBe(whole.price);
    expect(parts[1].adjustments).toEqual([
      expect.objectContaining({ rule: 'roaming-world-surcharge-peak', applied: '0.000000', usedByEarlierParts: '0.100000', leftForThisPart: '0.000000' }),
      expect.objectContaining({ rule: 'roaming-world-call-credit', applied: '0.400000', usedByEarlierParts: '1.600000', leftForThisPart: '0.400000' }),
    ]);
  });
});
