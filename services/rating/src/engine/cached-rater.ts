/**
 * The production rating path: json-rules-engine runs once per distinct combination of the
 * values (or threshold regions, see fact-key.ts) of the facts the plan's rules read; every other
 * event with the same combination reuses the rule outcome synchronously.
 */
import type { RuleOutcome } from '../domain/outcome';
import { buildResult, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';
import { prepareEvent } from './prepare-event';
import { evaluateRules } from './rate-plain';

export interface RaterStats {
  hits: number;
  misses: number;
  /** Distinct fact combinations seen (cache entries). */
  entries: number;
}

export interface Rater {
  readonly compiled: CompiledPlan;
  /** Rates an event; resolves immediately (no engine run) when its fact combination is cached. */
  rate(event: UsageEvent, ctx: SubscriberContext): Promise<RatingResult>;
  /** The synchronous hit path: the result, or undefined when the engine has to run first. */
  tryRateSync(event: UsageEvent, ctx: SubscriberContext): RatingResult | undefined;
  stats(): RaterStats;
}

const SEPARATOR = '\u0001';
/** Outcomes are small and the number of combinations is bounded by the plan; this is a backstop. */
const MAX_ENTRIES = 100_000;

export function createRater(compiled: CompiledPlan): Rater {
  const cache = new Map<string, RuleOutcome>();
  const keyers = compiled.readFacts.map((fact) => [fact, compiled.factKeyers.get(fact)!] as const);
  let hits = 0;
  let misses = 0;

  const keyOf = (facts: Record<string, unknown>): string => {
    let key = '';
    for (const [fact, keyer] of keyers) key += keyer(facts[fact]) + SEPARATOR;
    return key;
  };

  const tryRateSync = (event: UsageEvent, ctx: SubscriberContext): RatingResult | undefined => {
    const prepared = prepareEvent(compiled, event, ctx);
    if (prepared.done) return prepared.result;
    const outcome = cache.get(keyOf(prepared.facts));
    if (outcome === undefined) return undefined;
    hits++;
    return buildResult(event, ctx, outcome, prepared.resultContext);
  };

  const rate = async (event: UsageEvent, ctx: SubscriberContext): Promise<RatingResult> => {
    const prepared = prepareEvent(compiled, event, ctx);
    if (prepared.done) return prepared.result;
    const key = keyOf(prepared.facts);
    let outcome = cache.get(key);
    if (outcome === undefined) {
      misses++;
      outcome = await evaluateRules(compiled, prepared.facts);
      if (cache.size >= MAX_ENTRIES) cache.clear();
      cache.set(key, outcome);
    } else hits++;
    return buildResult(event, ctx, outcome, prepared.resultContext);
  };

  return { compiled, rate, tryRateSync, stats: () => ({ hits, misses, entries: cache.size }) };
}
