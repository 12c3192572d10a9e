/**
 * The naive baseline: evaluate json-rules-engine afresh for every event. The cached rater must
 * give identical results (see rating.differential.test.ts).
 */
import { resolveOutcome, type RuleOutcome } from '../domain/outcome';
import { buildResult, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';
import { prepareEvent } from './prepare-event';

export async function evaluateRules(compiled: CompiledPlan, facts: Record<string, unknown>): Promise<RuleOutcome> {
  const firedNames = await compiled.engine.run(facts);
  return resolveOutcome(firedNames.map((name) => compiled.ruleByName.get(name)!));
}

export async function ratePlain(compiled: CompiledPlan, event: UsageEvent, ctx: SubscriberContext): Promise<RatingResult> {
  const prepared = prepareEvent(compiled, event, ctx);
  if (prepared.done) return prepared.result;
  const outcome = await evaluateRules(compiled, prepared.facts);
  return buildResult(event, ctx, outcome, prepared.resultContext);
}
