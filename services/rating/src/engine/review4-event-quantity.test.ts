/**
 * Review 4: a quantity with more decimals than usage records carry (6) is refused as bad input
 * (RatingInputError) on both rating paths, never a TypeError from the fast pricing path; and the
 * scaled BigInt arithmetic is exact for any scale a valid plan can give it (long prices or
 * increments), not only the first 40 powers of ten.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import { MAX_QUANTITY_DECIMALS } from '../domain/derive-facts';
import type { PlanDocument } from '../domain/plan-types';
import { chargeableUnits, compileTariff, fastUnitsAndPrice, priceOf } from '../domain/pricing';
import { RatingInputError, type SubscriberContext, type UsageEvent } from '../domain/usage';
import { createRater } from './cached-rater';
import { compilePlan } from './compile-plan';
import { ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const payg = compilePlan(read<PlanDocument>('plans/prepaid-payg.json'), { version: '1' });
const ctx: SubscriberContext = { accountType: 'PREPAID', lineStatus: 'ACTIVE' };
const data = (quantity: string): UsageEvent => ({ id: 'd1', usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt: '2026-03-03T10:00:00Z' });

describe('event quantity precision', () => {
  it.each([`0.${'0'.repeat(40)}1`, '1.1234567'])('refuses %s as RATING_INVALID_EVENT on the plain and the cached path', async (quantity) => {
    await expect(ratePlain(payg, data(quantity), ctx)).rejects.toMatchObject({ name: 'RatingInputError', code: 'RATING_INVALID_EVENT', message: expect.stringContaining(`more than ${MAX_QUANTITY_DECIMALS} decimals`) });
    const rater = createRater(payg);
    await expect(rater.rate(data(quantity), ctx)).rejects.toBeInstanceOf(RatingInputError);
  });

  it('rates a quantity with exactly 6 decimals (what usage ingestion stores)', async () => {
    expect(MAX_QUANTITY_DECIMALS).toBe(6);
    const result = await ratePlain(payg, data('1.123456'), ctx);
    expect(result.decision).toBe('RATED');
    expect((await createRater(payg).rate(data('1.123456'), ctx)).price).toBe(result.price);
  });
});

describe('scaled BigInt pricing beyond 40 decimals', () => {
  it('prices a unit price with 45 decimals exactly as decimal.js does', () => {
    const tariff = compileTariff('t', { unit: 'MB', pricePerUnit: `0.${'0'.repeat(44)}1`, rounding: { mode: 'UP', scale: 6 } });
    const units = chargeableUnits(new Decimal('2.5'), tariff);
    expect(fastUnitsAndPrice(tariff, '2.5')).toEqual({ units: '3', price: priceOf(tariff, units, new Decimal(0)) });
    expect(fastUnitsAndPrice(tariff, '2.5').price).toBe('0.000001');
  });

  it('handles increments with more than 40 decimals', () => {
    const step = `0.${'0'.repeat(41)}1`;
    const tariff = compileTariff('t', { unit: 'MB', pricePerUnit: '0.01', increments: { first: step, next: step } });
    expect(fastUnitsAndPrice(tariff, '1.5')).toEqual({ units: '1.5', price: '0.015000' });
  });
});
