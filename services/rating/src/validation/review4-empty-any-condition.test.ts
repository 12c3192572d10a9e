/**
 * Bug: a rule whose condition list is empty (`{"any": []}`) passes validatePlan, and
 * json-rules-engine (7.x, rule.js prioritizeAndRun: "if (conditions.length === 0) return true")
 * treats an empty `any` as TRUE, so the rule fires for every event. The validator's own model of
 * the engine (domain/conditions.ts evaluateCondition, used by the ambiguity analysis and said to
 * "agree with the engine") reads it as FALSE (`[].some(...)`), so nothing warns.
 *
 * How a user meets it: a product manager "switches off" a rule by emptying its list, e.g. a
 * `deny` rule with `"conditions": {"any": []}`. Validation says the plan is valid, it is
 * published, and from then on every call, text and megabyte of every subscriber is DENIED.
 * (Equally, two `rate` rules at one priority where one has `{"any": []}` are ambiguous for every
 * event and the overlap check does not see it.)
 *
 * Fix (semantic-validator.ts conditionProblems, and/or conditions.ts evaluateCondition): report
 * an empty `all`/`any` list as INVALID_CONDITION at its pointer (e.g. /rules/14/conditions/any),
 * or make the validator's semantics equal the engine's so the plan it accepts rates as it reads.
 * Either way: a plan validatePlan accepts must not deny every event because of an empty list.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PlanDocument } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { validatePlan } from './validate-plan';

const SAMPLE = fileURLToPath(new URL('../../../../catalog/plans/prepaid-payg.json', import.meta.url));

describe('a rule with an empty "any" list', () => {
  it('is either reported by validatePlan or does not fire for every event', async () => {
    const plan: PlanDocument = JSON.parse(readFileSync(SAMPLE, 'utf8'));
    const index = plan.rules.length;
    plan.rules.push({ name: 'deny-switched-off', priority: 100, conditions: { any: [] }, event: { type: 'deny', params: { reason: 'SWITCHED_OFF' } } });

    const report = validatePlan(plan);
    if (!report.valid) {
      expect(report.problems.map((p) => p.pointer)).toContainEqual(expect.stringMatching(new RegExp(`^/rules/${index}/conditions`)));
      return;
    }
    // Accepted: then the plan must rate as the validator reads it (an empty "any" never holds).
    const compiled = compilePlan(plan, { version: '1' });
    const sms = await ratePlain(
      compiled,
      { id: 'sms-1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' },
      { accountType: 'PREPAID', lineStatus: 'ACTIVE' },
    );
    expect({ decision: sms.decision, denyReason: sms.denyReason }, 'a plain national SMS on a plan validatePlan accepted').toEqual({ decision: 'RATED', denyReason: undefined });
  });
});
