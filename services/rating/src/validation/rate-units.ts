/**
 * A `rate` rule's `unit` against the usage it rates. Usage counts a record's quantity in the unit of
 * its usage type (UNIT_OF_USAGE_TYPE: seconds of VOICE, messages of SMS and MMS, MB of DATA, items
 * of CONTENT) and rating prices that quantity in the rule's unit as it is: nothing converts, so a
 * rule with unit MESSAGE that fires for VOICE charges each second as a message (and takes it from a
 * MESSAGE bucket). The usage types a rule can fire for are found as the tariff-overlap analysis finds
 * overlaps: its conditions evaluated, with json-rules-engine's semantics, on every distinguishable
 * value of the other facts they read.
 */
import { evaluateCondition, leavesOf } from '../domain/conditions';
import { UNIT_OF_USAGE_TYPE, USAGE_TYPES, type FactName, type UsageType } from '../domain/facts';
import type { Condition, PlanDocument } from '../domain/plan-types';
import { representativeValues } from './fact-domains';
import type { Problem } from './problem';

/** Beyond this many combinations of the other facts per usage type, the rule is not checked (not guessed). */
const MAX_COMBINATIONS = 200_000;

const UNIT_WORDS: Record<string, string> = { SECOND: 'seconds', MESSAGE: 'messages', MB: 'megabytes', ITEM: 'items' };

/**
 * The usage types for which `conditions` can hold, in USAGE_TYPES order; undefined when there are
 * too many combinations of the other facts to tell. `conditions` must be well-formed (the
 * validator's conditionProblems found nothing that is not authoring-only).
 */
export function usageTypesMatched(plan: PlanDocument, conditions: Condition): UsageType[] | undefined {
  const leaves = leavesOf(conditions).map(({ leaf }) => leaf);
  const facts = [...new Set(leaves.map((leaf) => leaf.fact))].filter((fact) => fact !== 'usageType') as FactName[];
  const domains = facts.map((fact) => representativeValues(fact, plan, leaves));
  if (domains.reduce((product, domain) => product * domain.length, 1) > MAX_COMBINATIONS) return undefined;
  const assignment: Record<string, unknown> = {};
  const holds = (i: number): boolean => {
    if (i === facts.length) return evaluateCondition(conditions, assignment);
    return domains[i].some((value) => {
      assignment[facts[i]] = value;
      return holds(i + 1);
    });
  };
  return USAGE_TYPES.filter((usageType) => {
    assignment.usageType = usageType;
    return holds(0);
  });
}

function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * UNIT_NOT_FOR_USAGE_TYPE at `…/event/params/unit` when the rule can fire for usage counted in
 * another unit than its own; the message names each such usage type's unit. Authoring-only, as every
 * check added after versions were published: a version published with such a rule rates as published.
 */
export function rateUnitProblems(plan: PlanDocument, rule: { name?: unknown; conditions: Condition }, unit: string, at: string): Problem[] {
  const matched = usageTypesMatched(plan, rule.conditions);
  if (!matched) return [];
  const wrong = matched.filter((usageType) => UNIT_OF_USAGE_TYPE[usageType] !== unit);
  if (wrong.length === 0) return [];
  const byUnit = new Map<string, UsageType[]>();
  for (const usageType of wrong) byUnit.set(UNIT_OF_USAGE_TYPE[usageType], [...(byUnit.get(UNIT_OF_USAGE_TYPE[usageType]) ?? []), usageType]);
  const counted = [...byUnit].map(([countedIn, types], k) => `${joinAnd(types)} ${k === 0 ? `${types.length > 1 ? 'are' : 'is'} counted in` : 'in'} ${countedIn}`).join(', ');
  const [firstUnit, [firstType]] = [...byUnit][0];
  const ownTypes = USAGE_TYPES.filter((usageType) => UNIT_OF_USAGE_TYPE[usageType] === unit);
  const narrow = ownTypes.length > 0
    ? `give the rule a usageType condition so that it rates only usage counted in ${unit} (${joinAnd(ownTypes)})`
    : `"${unit}" is the unit of no usage type`;
  const fix = byUnit.size === 1 && !matched.some((usageType) => UNIT_OF_USAGE_TYPE[usageType] === unit)
    ? `Set "unit": "${firstUnit}", or ${narrow}.`
    : `Rate each unit's usage with a rule of its own, or ${narrow}.`;
  const name = typeof rule.name === 'string' ? `Rule "${rule.name}"` : 'This rule';
  return [{
    pointer: `${at}/event/params/unit`,
    code: 'UNIT_NOT_FOR_USAGE_TYPE',
    authoringOnly: true,
    message: `${name} can rate ${joinAnd(wrong)} usage, but its "unit" is "${unit}": rating prices a record's quantity in the rule's unit as it is, so ${firstType} ${UNIT_WORDS[firstUnit]} would be charged as ${UNIT_WORDS[unit] ?? unit}. ${counted}. ${fix}`,
  }];
}

const UNIT_WORD: Record<string, string> = { SECOND: 'second', MESSAGE: 'message', MB: 'megabyte', ITEM: 'item' };

/**
 * UNIT_NOT_FOR_USAGE_TYPE at `<at>/unit` when an allowance covers a usage type counted in another unit than its own
 * (a bucket is drawn down by a record's quantity as it is, so a MB allowance covering VOICE would take each second as
 * a megabyte); the message names each such usage type and its unit. Unknown units and usage types are left to the
 * schema. Authoring-only, as every check added after versions were published: a version published with such an
 * allowance rates as published.
 */
export function allowanceUnitProblems(allowance: { id?: unknown; unit?: unknown; usageTypes?: unknown }, at: string): Problem[] {
  const { unit, usageTypes } = allowance;
  if (typeof unit !== 'string' || !Object.hasOwn(UNIT_WORD, unit) || !Array.isArray(usageTypes)) return [];
  const covered = USAGE_TYPES.filter((usageType) => usageTypes.includes(usageType));
  const wrong = covered.filter((usageType) => UNIT_OF_USAGE_TYPE[usageType] !== unit);
  if (wrong.length === 0) return [];
  const units = [...new Set(wrong.map((usageType) => UNIT_OF_USAGE_TYPE[usageType]))];
  const name = typeof allowance.id === 'string' ? `Allowance "${allowance.id}"` : 'This allowance';
  const fix = wrong.length === covered.length && units.length === 1
    ? `Set "unit": "${units[0]}" (and the same unit on the rate rules that draw on it).`
    : wrong.length === 1
      ? `Give ${wrong[0]} an allowance of its own in ${units[0]}, or remove it from "usageTypes".`
      : `Give ${joinAnd(wrong)} allowances of their own (in ${joinAnd(units)}), or remove them from "usageTypes".`;
  return [{
    pointer: `${at}/unit`,
    code: 'UNIT_NOT_FOR_USAGE_TYPE',
    authoringOnly: true,
    message: `${name} counts "${unit}" but covers ${joinAnd(wrong)}, which usage counts in ${joinAnd(units)}: a bucket is drawn down by a record's quantity as it is, so each ${wrong[0]} ${UNIT_WORD[UNIT_OF_USAGE_TYPE[wrong[0]]]} would be taken as a${/^[aeiou]/.test(UNIT_WORD[unit]) ? 'n' : ''} ${UNIT_WORD[unit]}. ${fix}`,
  }];
}
