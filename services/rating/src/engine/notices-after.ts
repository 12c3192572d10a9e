/**
 * A plan's `notify` and `offer` rules read the period's usage AFTER the rated event (the event
 * that reaches 80 % asks for the 80 % notice), while its pricing rules read it before the event
 * (an event's price depends on the usage before it). Rating prices an event on the state before
 * it; once the caller has counted the event, noticesAfter evaluates the rules again on the state
 * after it and takes only their notify and offer outcome. Only the usage-state facts differ
 * (USAGE_STATE_FACTS), so the event's other facts are reused as rated.
 */
import { deriveFact } from '../domain/derive-facts';
import { NOTICE_EVENT_TYPES, USAGE_STATE_FACTS, type FactName } from '../domain/facts';
import { byPriorityThenOrder, type RuleOutcome, type TraceEntry } from '../domain/outcome';
import { toNotification, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';

/** What noticesAfter needs of a compiled plan, worked out once per plan version. */
export interface NoticePlan {
  /** The plan has notify or offer rules at all (otherwise the rated result is final). */
  readonly hasNotices: boolean;
  /** The usage-state facts the plan's rules read. */
  readonly stateFacts: readonly FactName[];
}

const noticePlans = new WeakMap<CompiledPlan, NoticePlan>();

export function noticePlanOf(compiled: CompiledPlan): NoticePlan {
  let plan = noticePlans.get(compiled);
  if (!plan) {
    plan = {
      hasNotices: compiled.rules.some((rule) => NOTICE_EVENT_TYPES.has(rule.event.type)),
      stateFacts: USAGE_STATE_FACTS.filter((fact) => compiled.readFacts.includes(fact)),
    };
    noticePlans.set(compiled, plan);
  }
  return plan;
}

/** Whether the rated result is final as it is: denied (nothing counted), or no notice rules. */
export function noticesSettled(compiled: CompiledPlan, rated: RatingResult): boolean {
  return rated.decision !== 'RATED' || !noticePlanOf(compiled).hasNotices;
}

/** The rated event's facts with the usage-state facts taken from `after`, and those state facts alone. */
export function factsAfterOf(compiled: CompiledPlan, rated: RatingResult, event: UsageEvent, after: SubscriberContext): { facts: Partial<Record<FactName, unknown>>; state: Partial<Record<FactName, unknown>> } {
  const facts: Partial<Record<FactName, unknown>> = { ...rated.facts };
  const state: Partial<Record<FactName, unknown>> = {};
  for (const fact of noticePlanOf(compiled).stateFacts) {
    // State facts read the context alone (the event's time is not used).
    const value = deriveFact(fact, event, 0, after, compiled.tables);
    facts[fact] = value;
    state[fact] = value;
  }
  return { facts, state };
}

/** `rated` with the notify and offer outcome of `after` (rules fired on the state after the event); pricing left as rated. */
export function withNoticesAfter(compiled: CompiledPlan, rated: RatingResult, event: UsageEvent, after: RuleOutcome, state: Partial<Record<FactName, unknown>>): RatingResult {
  const rank = (entry: TraceEntry) => compiled.ruleByName.get(entry.rule)!;
  const trace = [...rated.trace.filter((entry) => !NOTICE_EVENT_TYPES.has(entry.type)), ...after.trace.filter((entry) => NOTICE_EVENT_TYPES.has(entry.type))];
  trace.sort((a, b) => byPriorityThenOrder(rank(a), rank(b)));
  const allowanceId = compiled.tables.relevantAllowance(event.usageType);
  return {
    ...rated,
    notifications: after.notifications.length === 0 ? [] : after.notifications.map(({ rule, params }) => toNotification(rule, params, allowanceId)),
    offers: after.offers.length === 0 ? [] : after.offers.map(({ rule, params }) => ({ rule, offerCode: params.offerCode })),
    trace,
    factsAfter: state,
  };
}
