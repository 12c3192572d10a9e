/**
 * The naive baseline: evaluate json-rules-engine afresh for every event. The cached rater must
 * give identical results (see rating.differential.test.ts).
 */
import { resolveOutcome, type RuleOutcome } from '../domain/outcome';
import { buildResult, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';
import { factsAfterOf, noticesSettled, withNoticesAfter } from './notices-after';
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

/**
 * The naive baseline of Rater.noticesAfter: the rated event's notify and offer rules evaluated
 * afresh on the subscriber's state after the event (`after`).
 */
export async function noticesAfterPlain(compiled: CompiledPlan, rated: RatingResult, event: UsageEvent, after: SubscriberContext): Promise<RatingResult> {
  if (noticesSettled(compiled, rated)) return rated;
  const { facts, state } = factsAfterOf(compiled, rated, event, after);
  return withNoticesAfter(compiled, rated, event, await evaluateRules(compiled, facts), state);
}
