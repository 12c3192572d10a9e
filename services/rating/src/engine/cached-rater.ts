/**
 * The production rating path. A rule's conditions are a pure function of the facts that rule
 * reads, so its result can be cached per combination of just those facts' values (or threshold
 * regions, see fact-key.ts). Rules reading the same set of facts form one group with one cache.
 * An event's fired rules are the union of its groups' cached results, and its outcome is cached
 * per fired set. json-rules-engine runs only when some group has not seen the event's values
 * yet; one run then fills every group. Per-rule-group keys have far fewer combinations than a
 * key over all facts (a data rule does not care about the called number's zone), so the cache
 * warms after a few hundred distinct events and then every event takes the synchronous path.
 */
import { leavesOf } from '../domain/conditions';
import type { FactName } from '../domain/facts';
import { resolveOutcome, type RuleOutcome } from '../domain/outcome';
import { buildResult, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import type { CompiledPlan } from './compile-plan';
import { factsAfterOf, noticePlanOf, noticesSettled, withNoticesAfter } from './notices-after';
import { prepareEvent } from './prepare-event';

export interface RaterStats {
  /** Events rated from the cache without running the engine. */
  hits: number;
  /** Events that needed a json-rules-engine run. */
  misses: number;
  /** Distinct fired-rule sets seen (outcome cache entries). */
  entries: number;
}

export interface Rater {
  readonly compiled: CompiledPlan;
  /** Rates an event; resolves without running the engine when its fact values are cached. */
  rate(event: UsageEvent, ctx: SubscriberContext): Promise<RatingResult>;
  /** The synchronous hit path: the result, or undefined when the engine has to run first. */
  tryRateSync(event: UsageEvent, ctx: SubscriberContext): RatingResult | undefined;
  /**
   * `rated` (this event rated on the state before it) with the plan's `notify` and `offer` rules
   * evaluated on `after`, the subscriber's state once the event is counted (its allowance ratios
   * and spend include the event): the notices the event itself triggers. Pricing stays as rated.
   * See notices-after.ts.
   */
  noticesAfter(rated: RatingResult, event: UsageEvent, after: SubscriberContext): Promise<RatingResult>;
  /** The synchronous path of noticesAfter: undefined when the engine has to run first. */
  tryNoticesAfterSync(rated: RatingResult, event: UsageEvent, after: SubscriberContext): RatingResult | undefined;
  stats(): RaterStats;
}

interface RuleGroup {
  /** Indices (into readFacts) of the facts the group's rules read. */
  factSlots: number[];
  /** Rule indices in the group. */
  rules: number[];
  /** packed fact-value ids (see packKey) → the group's fired rules, with a short id of that set. */
  cache: Map<number, GroupEntry>;
  /** fired-set signature → its id, so equal fired sets share one id. */
  ids: Map<string, string>;
}

interface GroupEntry {
  id: string;
  fired: readonly number[];
}

const SEPARATOR = '\u0001';
/**
 * Group keys are numbers, not strings: hashing freshly concatenated strings dominated the hot
 * path. Each fact key is interned to a small id per fact; a group's ids are packed in base
 * ID_RADIX into one safe integer, which is exact while ids stay below ID_RADIX and a group reads
 * at most MAX_PACKED_FACTS facts (checked; otherwise the rater falls back to running the engine).
 */
const ID_RADIX = 1024;
const MAX_PACKED_FACTS = 5;
/** Backstop against unbounded growth; real plans have far fewer combinations. */
const MAX_ENTRIES = 100_000;

function groupRules(compiled: CompiledPlan): RuleGroup[] {
  const slotOf = new Map(compiled.readFacts.map((fact, slot) => [fact, slot]));
  const groups = new Map<string, RuleGroup>();
  compiled.plan.rules.forEach((rule, index) => {
    const facts = [...new Set(leavesOf(rule.conditions).map(({ leaf }) => leaf.fact as FactName))].sort();
    const signature = facts.join(',');
    let group = groups.get(signature);
    if (!group) {
      group = { factSlots: facts.map((fact) => slotOf.get(fact)!), rules: [], cache: new Map(), ids: new Map() };
      groups.set(signature, group);
    }
    group.rules.push(index);
  });
  return [...groups.values()];
}

export function createRater(compiled: CompiledPlan): Rater {
  const groups = groupRules(compiled);
  const keyers = compiled.readFacts.map((fact) => compiled.factKeyers.get(fact)!);
  const outcomes = new Map<string, RuleOutcome>();
  let hits = 0;
  let misses = 0;

  const readFacts = compiled.readFacts;
  const interned = readFacts.map(() => new Map<string, number>());
  const packable = groups.every((group) => group.factSlots.length <= MAX_PACKED_FACTS);
  /** Interned id of each read fact's key, or undefined when an id would not fit the packing. */
  const factKeys = (facts: Record<string, unknown>): number[] | undefined => {
    if (!packable) return undefined;
    const ids = new Array<number>(readFacts.length);
    for (let slot = 0; slot < readFacts.length; slot++) {
      const key = keyers[slot](facts[readFacts[slot]]);
      let id = interned[slot].get(key);
      if (id === undefined) {
        if (interned[slot].size >= ID_RADIX - 1) return undefined;
        id = interned[slot].size + 1;
        interned[slot].set(key, id);
      }
      ids[slot] = id;
    }
    return ids;
  };
  const groupKey = (group: RuleGroup, ids: number[]): number => {
    let key = 0;
    for (const slot of group.factSlots) key = key * ID_RADIX + ids[slot];
    return key;
  };

  /** The cached outcome for these fact keys, or undefined when some group has not seen them. */
  const lookup = (keys: number[]): RuleOutcome | undefined => {
    // The outcome key is the groups' fired-set ids in group order: equal keys, equal fired rules.
    let outcomeKey = '';
    for (const group of groups) {
      const entry = group.cache.get(groupKey(group, keys));
      if (entry === undefined) return undefined;
      outcomeKey += entry.id + SEPARATOR;
    }
    let outcome = outcomes.get(outcomeKey);
    if (outcome === undefined) {
      const fired: number[] = [];
      for (const group of groups) for (const rule of group.cache.get(groupKey(group, keys))!.fired) fired.push(rule);
      outcome = resolveOutcome(fired.map((index) => compiled.rules[index]));
      if (outcomes.size >= MAX_ENTRIES) outcomes.clear();
      outcomes.set(outcomeKey, outcome);
    }
    return outcome;
  };

  const learn = (keys: number[], firedNames: string[]): void => {
    const fired = new Set(firedNames.map((name) => compiled.ruleByName.get(name)!.index));
    for (const group of groups) {
      if (group.cache.size >= MAX_ENTRIES) group.cache.clear();
      const groupFired = Object.freeze(group.rules.filter((rule) => fired.has(rule)));
      const signature = groupFired.join(',');
      let id = group.ids.get(signature);
      if (id === undefined) group.ids.set(signature, (id = String(group.ids.size)));
      group.cache.set(groupKey(group, keys), { id, fired: groupFired });
    }
  };

  const tryRateSync = (event: UsageEvent, ctx: SubscriberContext): RatingResult | undefined => {
    const prepared = prepareEvent(compiled, event, ctx);
    if (prepared.done) return prepared.result;
    const keys = factKeys(prepared.facts);
    const outcome = keys && lookup(keys);
    if (outcome === undefined) return undefined;
    hits++;
    return buildResult(event, ctx, outcome, prepared.resultContext);
  };

  const rate = async (event: UsageEvent, ctx: SubscriberContext): Promise<RatingResult> => {
    const prepared = prepareEvent(compiled, event, ctx);
    if (prepared.done) return prepared.result;
    const keys = factKeys(prepared.facts);
    let outcome = keys && lookup(keys);
    if (outcome === undefined) {
      misses++;
      const fired = await compiled.engine.run(prepared.facts);
      if (keys) {
        learn(keys, fired);
        outcome = lookup(keys)!;
      } else outcome = resolveOutcome(fired.map((name) => compiled.ruleByName.get(name)!));
    } else hits++;
    return buildResult(event, ctx, outcome, prepared.resultContext);
  };

  // noticesAfter: the state facts' keys before and after the event. Equal keys make every rule
  // fire as it did when the event was rated, so the rated notices stand (the usual case: most
  // events do not take the usage across a threshold a rule names).
  const stateKeyers = noticePlanOf(compiled).stateFacts.map((fact) => [fact, compiled.factKeyers.get(fact)!] as const);
  const noticesUnchanged = (rated: RatingResult, state: Partial<Record<FactName, unknown>>): boolean => {
    for (const [fact, keyer] of stateKeyers) if (keyer(rated.facts[fact]) !== keyer(state[fact])) return false;
    return true;
  };
  /** The notices after the event when known without running the engine; `facts` for the engine otherwise. */
  const noticesFromCache = (rated: RatingResult, event: UsageEvent, after: SubscriberContext): { result: RatingResult } | { facts: Partial<Record<FactName, unknown>>; state: Partial<Record<FactName, unknown>>; keys: number[] | undefined } => {
    if (noticesSettled(compiled, rated)) return { result: rated };
    const { facts, state } = factsAfterOf(compiled, rated, event, after);
    if (noticesUnchanged(rated, state)) return { result: { ...rated, factsAfter: state } };
    const keys = factKeys(facts);
    const outcome = keys && lookup(keys);
    if (outcome !== undefined) return { result: withNoticesAfter(compiled, rated, event, outcome, state) };
    return { facts, state, keys };
  };

  const tryNoticesAfterSync = (rated: RatingResult, event: UsageEvent, after: SubscriberContext): RatingResult | undefined => {
    const found = noticesFromCache(rated, event, after);
    return 'result' in found ? found.result : undefined;
  };

  const noticesAfter = async (rated: RatingResult, event: UsageEvent, after: SubscriberContext): Promise<RatingResult> => {
    const found = noticesFromCache(rated, event, after);
    if ('result' in found) return found.result;
    misses++;
    const fired = await compiled.engine.run(found.facts);
    let outcome: RuleOutcome;
    if (found.keys) {
      learn(found.keys, fired);
      outcome = lookup(found.keys)!;
    } else outcome = resolveOutcome(fired.map((name) => compiled.ruleByName.get(name)!));
    return withNoticesAfter(compiled, rated, event, outcome, found.state);
  };

  return { compiled, rate, tryRateSync, noticesAfter, tryNoticesAfterSync, stats: () => ({ hits, misses, entries: outcomes.size }) };
}
