/**
 * One validator, two modes. 'authoring' (drafts, publishing, `catalog validate`) reports every
 * rule; 'rating' (compilePlan, i.e. usage's plan cache compiling a published version that
 * subscriptions are pinned to) refuses only what cannot be rated safely. Authoring-only rules
 * (AMOUNT_PRECISION, an empty `all`/`any` list, AMBIGUOUS_TARIFF) come back as warnings, so a
 * version published before they existed keeps rating exactly as json-rules-engine reads it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OfferDocument, PlanDocument, PlanRule } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan, PlanValidationError } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));
const knownOffers = ['offers/data-boost-5gb.json', 'offers/roam-world-pass-7d.json'].map((f) => read<OfferDocument>(f));
const postpaid = () => read<PlanDocument>('plans/postpaid-20gb.json');
const ctx: SubscriberContext = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' };
const sms: UsageEvent = { id: 'sms-1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' };
const content: UsageEvent = { id: 'content-1', usageType: 'CONTENT', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z' };
const codes = (problems: { pointer: string; code: string }[] | undefined) => (problems ?? []).map(({ pointer, code }) => ({ pointer, code }));

function withRule(plan: PlanDocument, rule: unknown): { plan: PlanDocument; index: number } {
  plan.rules.push(rule as PlanRule);
  return { plan, index: plan.rules.length - 1 };
}

describe('an amount finer than the currency minor unit (AMOUNT_PRECISION)', () => {
  const plan = () => {
    const doc = postpaid();
    doc.recurringFee!.amount = '29.995';
    return doc;
  };

  it('is refused when authoring (the default mode)', () => {
    const report = validatePlan(plan(), { knownOffers });
    expect(report.valid).toBe(false);
    expect(codes(report.problems)).toEqual([{ pointer: '/recurringFee/amount', code: 'AMOUNT_PRECISION' }]);
    expect(validatePlan(plan(), { knownOffers, mode: 'authoring' })).toEqual(report);
  });

  it('is a warning when rating: the published version still compiles', () => {
    const report = validatePlan(plan(), { knownOffers, mode: 'rating' });
    expect(report).toMatchObject({ valid: true, problems: [] });
    expect(codes(report.warnings)).toEqual([{ pointer: '/recurringFee/amount', code: 'AMOUNT_PRECISION' }]);
    expect(compilePlan(plan(), { version: '1', knownOffers }).plan.recurringFee?.amount).toBe('29.995');
  });
});

describe('an {"all": []} catch-all published before empty lists were refused', () => {
  const catchAll = () => withRule(postpaid(), { name: 'anything-else', priority: 1, conditions: { all: [] }, event: { type: 'rate', params: { unit: 'ITEM', pricePerUnit: '0.99' } } });

  it('is refused when authoring, at the empty list', () => {
    const { plan, index } = catchAll();
    // Holding for every event, it can also rate VOICE, SMS, MMS and DATA in ITEM (UNIT_NOT_FOR_USAGE_TYPE, 2026-11-30).
    const unitForEveryType = { pointer: `/rules/${index}/event/params/unit`, code: 'UNIT_NOT_FOR_USAGE_TYPE' };
    expect(codes(validatePlan(plan, { knownOffers }).problems)).toEqual([{ pointer: `/rules/${index}/conditions/all`, code: 'INVALID_CONDITION' }, unitForEveryType]);
  });

  it('compiles and holds for every event, as json-rules-engine reads it', async () => {
    const { plan, index } = catchAll();
    const report = validatePlan(plan, { knownOffers, mode: 'rating' });
    expect(report.valid).toBe(true);
    expect(codes(report.warnings)).toEqual([{ pointer: `/rules/${index}/conditions/all`, code: 'INVALID_CONDITION' }, { pointer: `/rules/${index}/event/params/unit`, code: 'UNIT_NOT_FOR_USAGE_TYPE' }]);
    const compiled = compilePlan(plan, { version: '1', knownOffers });
    // Content has no tariff of its own on this plan: the catch-all prices it.
    expect(await ratePlain(compiled, content, ctx)).toMatchObject({ decision: 'RATED', pricePerUnit: '0.99' });
    // Higher-priority tariffs still win: an SMS rates as on the plan without the catch-all.
    const without = await ratePlain(compilePlan(postpaid(), { version: '1', knownOffers }), sms, ctx);
    expect(without.decision).toBe('RATED');
    const withCatchAll = await ratePlain(compiled, sms, ctx);
    const charged = ({ decision, unit, pricePerUnit, price }: typeof without) => ({ decision, unit, pricePerUnit, price });
    expect(charged(withCatchAll)).toEqual(charged(without));
  });
});

describe('an empty "any" list', () => {
  it('compiles and, like the engine, holds: a deny rule with one denies every event', async () => {
    const { plan, index } = withRule(postpaid(), { name: 'deny-switched-off', priority: 100, conditions: { any: [] }, event: { type: 'deny', params: { reason: 'SWITCHED_OFF' } } });
    expect(codes(validatePlan(plan, { knownOffers }).problems)).toEqual([{ pointer: `/rules/${index}/conditions/any`, code: 'INVALID_CONDITION' }]);
    const compiled = compilePlan(plan, { version: '1', knownOffers });
    expect(await ratePlain(compiled, sms, ctx)).toMatchObject({ decision: 'DENIED', denyReason: 'SWITCHED_OFF' });
  });

  it('in eligibility conditions holds too: everyone is eligible', () => {
    const plan = postpaid();
    plan.eligibility = { conditions: { any: [] }, message: 'never shown' } as unknown as PlanDocument['eligibility'];
    expect(codes(validatePlan(plan, { knownOffers }).problems)).toEqual([{ pointer: '/eligibility/conditions/any', code: 'INVALID_CONDITION' }]);
    expect(validatePlan(plan, { knownOffers, mode: 'rating' }).valid).toBe(true);
  });
});

describe('two rate rules that can fire together (AMBIGUOUS_TARIFF)', () => {
  it('are refused when authoring; rating resolves them by document order, so they compile', () => {
    const { plan, index } = withRule(postpaid(), { name: 'sms-flat', priority: 5, conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'SMS' }] }, event: { type: 'rate', params: { unit: 'MESSAGE', pricePerUnit: '0.09' } } });
    expect(validatePlan(plan, { knownOffers }).problems).toContainEqual(expect.objectContaining({ pointer: `/rules/${index}`, code: 'AMBIGUOUS_TARIFF' }));
    expect(validatePlan(plan, { knownOffers, mode: 'rating' })).toMatchObject({ valid: true, problems: [] });
    expect(() => compilePlan(plan, { version: '1', knownOffers })).not.toThrow();
  });
});

describe('what rating cannot do safely is refused in both modes', () => {
  it('a node mixing a leaf and a group (the engine ignores the leaf and reads facts nobody derives) fails at compile, naming the node', () => {
    const { plan, index } = withRule(postpaid(), {
      name: 'deny-night-content',
      priority: 100,
      conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'CONTENT', any: [{ fact: 'timeBand', operator: 'equal', value: 'NIGHT' }] }] },
      event: { type: 'deny', params: { reason: 'CONTENT_BARRED_AT_NIGHT' } },
    });
    const expected = { pointer: `/rules/${index}/conditions/all/0`, code: 'INVALID_CONDITION' };
    expect(codes(validatePlan(plan, { knownOffers }).problems)).toEqual([expected]);
    expect(validatePlan(plan, { knownOffers, mode: 'rating' })).toMatchObject({ valid: false, problems: [expect.objectContaining(expected)] });
    let refusal: unknown;
    try {
      compilePlan(plan, { version: '1', knownOffers });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(PlanValidationError);
    expect((refusal as PlanValidationError).message).toContain(`/rules/${index}/conditions/all/0: A condition is either a leaf`);
    expect(codes((refusal as PlanValidationError).problems)).toEqual([expected]);
  });

  it('an unknown fact fails at compile, and authoring-only problems beside it are not listed as the reason', () => {
    const { plan, index } = withRule(postpaid(), { name: 'typo', priority: 1, conditions: { all: [{ fact: 'usageTypo', operator: 'equal', value: 'SMS' }] }, event: { type: 'deny', params: { reason: 'TYPO' } } });
    plan.recurringFee!.amount = '29.995';
    const report = validatePlan(plan, { knownOffers, mode: 'rating' });
    expect(codes(report.problems)).toEqual([{ pointer: `/rules/${index}/conditions/all/0/fact`, code: 'UNKNOWN_FACT' }]);
    expect(codes(report.warnings)).toEqual([{ pointer: '/recurringFee/amount', code: 'AMOUNT_PRECISION' }]);
    expect(() => compilePlan(plan, { version: '1', knownOffers })).toThrow(/usageTypo/);
  });
});
