/**
 * Bug: a condition node that has both a leaf's keys and a boolean key, e.g.
 * `{"fact": "usageType", "operator": "equal", "value": "CONTENT", "any": [{"fact": "timeBand", …}]}`,
 * passes validatePlan: the schema's `condition` allows all six keys together, and the validator
 * (semantic-validator.ts conditionProblems: `if ('fact' in node) { leafProblems…; return }`) and
 * leavesOf (domain/conditions.ts) treat it as a plain leaf. json-rules-engine does the opposite:
 * a node with `any`/`all`/`not` is a boolean node and its fact/operator/value are ignored. So the
 * engine evaluates facts the compiler never derived (timeBand here): every event of the plan
 * throws "Undefined fact: timeBand" (allowUndefinedFacts is false), i.e. a published plan that
 * cannot rate anything; with facts that other rules read it silently fires on the wrong events.
 *
 * How a user meets it: a product manager nests a refinement inside a leaf instead of beside it;
 * validation says valid, publish succeeds, and usage on that plan fails to rate.
 *
 * Fix: in conditionProblems, report a node that mixes "fact"/"operator"/"value" with
 * "all"/"any"/"not" as INVALID_CONDITION at its pointer (or forbid it in plan.schema.json with a
 * oneOf), so the plan cannot be published; until then a plan validatePlan accepts must rate.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PlanDocument, PlanRule } from '../domain/plan-types';
import { compilePlan } from '../engine/compile-plan';
import { ratePlain } from '../engine/rate-plain';
import { validatePlan } from './validate-plan';

const SAMPLE = fileURLToPath(new URL('../../../../catalog/plans/prepaid-payg.json', import.meta.url));

describe('a condition leaf that also carries "any"', () => {
  it('is reported by validatePlan (the engine reads it as a boolean node, not as the leaf)', async () => {
    const plan: PlanDocument = JSON.parse(readFileSync(SAMPLE, 'utf8'));
    const index = plan.rules.length;
    const rule = {
      name: 'deny-night-content',
      priority: 100,
      conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'CONTENT', any: [{ fact: 'timeBand', operator: 'equal', value: 'NIGHT' }] }] },
      event: { type: 'deny', params: { reason: 'CONTENT_BARRED_AT_NIGHT' } },
    } as unknown as PlanRule;
    plan.rules.push(rule);

    const report = validatePlan(plan);
    if (report.valid) {
      // What publishing it would mean: the compiled plan cannot rate a plain SMS.
      const compiled = compilePlan(plan, { version: '1' });
      const attempt = ratePlain(
        compiled,
        { id: 'sms-1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' },
        { accountType: 'PREPAID', lineStatus: 'ACTIVE' },
      ).then((r) => r.decision, (e: Error) => `threw: ${e.message}`);
      expect(await attempt, 'validatePlan accepted the plan; rating an SMS with it').toBe('RATED');
    }
    expect(report.problems.map((p) => p.pointer)).toContainEqual(expect.stringMatching(new RegExp(`^/rules/${index}/conditions/all/0`)));
  });
});
