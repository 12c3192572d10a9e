/**
 * Cache keys for rule outcomes. Two events with the same key make every condition of every
 * rule evaluate the same way, so they fire the same rules:
 * - enum / zone / boolean facts: the value itself;
 * - numeric facts (allowanceUsedRatio, spendInPeriod, lineCount): the region of the value among
 *   the constants the rules compare that fact with (below the first, equal to it, between the
 *   first and the second, ...). Every comparison with a constant has the same answer within a
 *   region, so this is exact, and far more events share a key than with the raw value;
 * - code lists (activeAddOns): which of the codes the rules test are present.
 */
import { leavesOf } from '../domain/conditions';
import { Decimal, isDecimalString } from '../domain/decimal';
import { FACTS, type FactName } from '../domain/facts';
import type { PlanRule } from '../domain/plan-types';

export type FactKeyer = (value: unknown) => string;

function numericKeyer(constants: Decimal[]): FactKeyer {
  const sorted = [...new Map(constants.map((c) => [c.toString(), c])).values()].sort((a, b) => a.comparedTo(b));
  return (value) => {
    // json-rules-engine's numeric operators are false for non-numbers: one region for them all.
    if (!(typeof value === 'number' && Number.isFinite(value)) && !isDecimalString(value)) return 'x';
    const number = new Decimal(value as string | number);
    let region = 0;
    for (const constant of sorted) {
      const comparison = number.comparedTo(constant);
      if (comparison < 0) break;
      if (comparison === 0) return String(region + 1);
      region += 2;
    }
    return String(region);
  };
}

export function buildFactKeyers(rules: PlanRule[]): Map<FactName, FactKeyer> {
  const leaves = rules.flatMap((rule) => leavesOf(rule.conditions)).map(({ leaf }) => leaf);
  const facts = [...new Set(leaves.map((leaf) => leaf.fact as FactName))].sort();
  const keyers = new Map<FactName, FactKeyer>();
  for (const fact of facts) {
    const own = leaves.filter((leaf) => leaf.fact === fact);
    const type = FACTS[fact].type;
    if (type === 'decimal' || type === 'integer') {
      const constants = own.flatMap((leaf) => (Array.isArray(leaf.value) ? leaf.value : [leaf.value])).map((value) => new Decimal(value as string | number));
      keyers.set(fact, numericKeyer(constants));
    } else if (type === 'codeList') {
      const codes = [...new Set(own.map((leaf) => leaf.value))];
      keyers.set(fact, (value) => codes.map((code) => (Array.isArray(value) && value.includes(code) ? '1' : '0')).join(''));
    } else {
      // Enum values never contain the separator; JSON keeps true distinct from "true".
      keyers.set(fact, (value) => (typeof value === 'string' ? value : JSON.stringify(value)));
    }
  }
  return keyers;
}
