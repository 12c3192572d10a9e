/**
 * The finite set of values each fact can take under one plan, as far as the plan's rules can
 * tell them apart. Used by the overlap analysis (and to test cache keys): enumerating these
 * domains visits every distinguishable situation.
 */
import { PlanFactTables } from '../domain/derive-facts';
import { Decimal, isDecimalString } from '../domain/decimal';
import { FACTS, type FactName } from '../domain/facts';
import type { ConditionLeaf, PlanDocument } from '../domain/plan-types';

export function enumDomain(fact: FactName, plan: PlanDocument): readonly unknown[] | undefined {
  const definition = FACTS[fact];
  if (definition.type === 'boolean') return [true, false];
  if (definition.type === 'enum') return (definition as { values: readonly string[] }).values;
  if (definition.type === 'planEnum') {
    return fact === 'destinationZone' ? PlanFactTables.destinationZones(plan) : PlanFactTables.roamingZones(plan);
  }
  return undefined;
}

/**
 * Representative values of a numeric fact: every constant the given leaves compare it with,
 * plus one value below, between and above them. Any comparison with those constants gives the
 * same answer for all values of one region, so these representatives cover all cases.
 */
export function numericRepresentatives(fact: FactName, leaves: ConditionLeaf[]): Array<string | number> {
  const constants: Decimal[] = [];
  for (const leaf of leaves) {
    if (leaf.fact !== fact) continue;
    const values = Array.isArray(leaf.value) ? leaf.value : [leaf.value];
    for (const value of values) {
      if (typeof value === 'number' || isDecimalString(value)) constants.push(new Decimal(value));
    }
  }
  const sorted = [...new Map(constants.map((c) => [c.toString(), c])).values()].sort((a, b) => a.comparedTo(b));
  if (sorted.length === 0) return ['0'];
  const representatives: Decimal[] = [sorted[0].minus(1)];
  sorted.forEach((constant, i) => {
    representatives.push(constant);
    representatives.push(i + 1 < sorted.length ? constant.plus(sorted[i + 1]).div(2) : constant.plus(1));
  });
  // Integer facts (lineCount) only take integers: a half-way value would be a fake situation.
  if (FACTS[fact].type === 'integer') {
    const integers = new Set(representatives.filter((r) => r.isInteger()).map((r) => r.toNumber()));
    for (const r of representatives) {
      if (r.isInteger()) continue;
      integers.add(r.floor().toNumber());
      integers.add(r.ceil().toNumber());
    }
    return [...integers].sort((a, b) => a - b);
  }
  return representatives.map((r) => r.toString());
}

/** Subsets of the codes the leaves test, for a codeList fact (activeAddOns). */
export function codeListRepresentatives(fact: FactName, leaves: ConditionLeaf[]): string[][] {
  const codes = [...new Set(leaves.filter((leaf) => leaf.fact === fact).map((leaf) => String(leaf.value)))].slice(0, 10);
  const subsets: string[][] = [];
  for (let mask = 0; mask < 1 << codes.length; mask++) subsets.push(codes.filter((_, i) => mask & (1 << i)));
  return subsets;
}

export function representativeValues(fact: FactName, plan: PlanDocument, leaves: ConditionLeaf[]): readonly unknown[] {
  const domain = enumDomain(fact, plan);
  if (domain) return domain;
  if (FACTS[fact].type === 'codeList') return codeListRepresentatives(fact, leaves);
  return numericRepresentatives(fact, leaves);
}
