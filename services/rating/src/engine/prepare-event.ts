/** What both rating paths do before rules: check the event, refuse inactive lines, read facts. */
import { assertValidEvent, deriveFact } from '../domain/derive-facts';
import type { FactName } from '../domain/facts';
import { deniedResult, type RatingResult, type ResultContext } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';

export type PreparedEvent =
  | { done: true; result: RatingResult }
  | { done: false; facts: Partial<Record<FactName, unknown>>; resultContext: ResultContext };

export function prepareEvent(compiled: CompiledPlan, event: UsageEvent, ctx: SubscriberContext): PreparedEvent {
  const epochMs = assertValidEvent(event);
  const facts: Partial<Record<FactName, unknown>> = {};
  for (const fact of compiled.readFacts) facts[fact] = deriveFact(fact, event, epochMs, ctx, compiled.tables);
  const resultContext: ResultContext = {
    planCode: compiled.code,
    planVersion: compiled.version,
    currency: compiled.currency,
    relevantAllowance: compiled.tables.relevantAllowance(event.usageType),
    facts,
  };
  // Safety net independent of the plan's rules: usage on a line that is not ACTIVE is refused.
  if (ctx.lineStatus !== 'ACTIVE') return { done: true, result: deniedResult(event, resultContext, `LINE_${ctx.lineStatus}`) };
  return { done: false, facts, resultContext };
}
