/**
 * Review 5: a plan version published before today's validator no longer compiles, so usage
 * rejects every event of the subscriptions pinned to it.
 *
 * What is wrong: `compilePlan` runs the whole authoring validator (`validatePlan`) and throws
 * PlanValidationError on any problem. Today's validator added AMOUNT_PRECISION (fees, add-on
 * prices, balancePolicy/committedSpend amounts finer than the currency's minor unit). A published
 * version is immutable and subscriptions stay pinned to it (grandfathering), but usage's plan cache
 * (services/usage/src/application/plan-cache.ts) compiles it with `compilePlan` when it rates: a
 * version published last month with `recurringFee.amount: "29.995"` (valid then: the schema's price
 * allows 6 decimals and invoicing rounds the fee line) now answers PLAN_INVALID, cached for good, and
 * every usage record of its subscribers is REJECTED — although rating never reads the recurring fee.
 *
 * How a user meets it: upgrade; a postpaid line on such a pinned version makes a call; the record
 * is REJECTED "plan ... is invalid: /recurringFee/amount: 29.995 EUR is finer than ...".
 *
 * What the fix should make true: checks that only guard authoring (AMOUNT_PRECISION on amounts
 * rating never uses) are reported by validatePlan at draft/publish time, not enforced when an
 * already-published version is compiled for rating; the version compiles and rates its events.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan } from './compile-plan';
import { ratePlain } from './rate-plain';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));

const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));

describe('a version published before AMOUNT_PRECISION existed', () => {
  it('still compiles and rates usage (rating never reads the recurring fee)', async () => {
    const published = read<PlanDocument>('plans/postpaid-20gb.json');
    (published as unknown as { recurringFee: { amount: string } }).recurringFee.amount = '29.995';
    const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
    const sms: UsageEvent = { id: 'e1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' };
    let compiled: ReturnType<typeof compilePlan> | undefined;
    let refusal: string | undefined;
    try {
      compiled = compilePlan(published, { version: '1', knownOffers });
    } catch (error) {
      refusal = (error as Error).message;
    }
    expect(refusal, 'a pinned published version must stay ratable').toBeUndefined();
    expect((await ratePlain(compiled!, sms, ctx)).decision).toBe('RATED');
  });
});
