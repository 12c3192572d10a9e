/**
 * Finds pairs of `rate` rules at the same priority that can fire for the same event: an
 * ambiguous tariff. Exact for the facts plans can read: every fact has a finite set of
 * representative values (enum domains, zone names of the plan, regions between the numeric
 * constants of the two rules, subsets of tested add-on codes), and the two rules are evaluated
 * with json-rules-engine's semantics on every combination of the facts they read. Beyond
 * MAX_COMBINATIONS we report "could not prove they are exclusive" rather than guess.
 */
import { evaluateCondition, leavesOf } from '../domain/conditions';
import type { FactName } from '../domain/facts';
import type { PlanDocument, PlanRule } from '../domain/plan-types';
import { representativeValues } from './fact-domains';
import type { Problem } from './problem';

const MAX_COMBINATIONS = 200_000;

export interface Overlap {
  first: number;
  second: number;
  /** Fact values for which both rules fire; undefined when the search was too large. */
  example?: Record<string, unknown>;
}

export function findOverlap(plan: PlanDocument, a: PlanRule, b: PlanRule): { overlapping: boolean; example?: Record<string, unknown> } {
  const leaves = [...leavesOf(a.conditions), ...leavesOf(b.conditions)].map(({ leaf }) => leaf);
  const facts = [...new Set(leaves.map((leaf) => leaf.fact))] as FactName[];
  const domains = facts.map((fact) => representativeValues(fact, plan, leaves));
  const combinations = domains.reduce((product, domain) => product * domain.length, 1);
  if (combinations > MAX_COMBINATIONS) return { overlapping: true };
  const assignment: Record<string, unknown> = {};
  const search = (i: number): boolean => {
    if (i === facts.length) return evaluateCondition(a.conditions, assignment) && evaluateCondition(b.conditions, assignment);
    for (const value of domains[i]) {
      assignment[facts[i]] = value;
      if (search(i + 1)) return true;
    }
    return false;
  };
  return search(0) ? { overlapping: true, example: { ...assignment } } : { overlapping: false };
}

export function ambiguousTariffProblems(plan: PlanDocument): Problem[] {
  const problems: Problem[] = [];
  const rateRules = plan.rules.map((rule, index) => ({ rule, index })).filter(({ rule }) => rule.event.type === 'rate');
  for (let i = 0; i < rateRules.length; i++) {
    for (let j = i + 1; j < rateRules.length; j++) {
      const a = rateRules[i];
      const b = rateRules[j];
      const priority = a.rule.priority ?? 1;
      if (priority !== (b.rule.priority ?? 1)) continue;
      const { overlapping, example } = findOverlap(plan, a.rule, b.rule);
      if (!overlapping) continue;
      const when = example
        ? `for example when ${Object.entries(example).map(([fact, value]) => `${fact} = ${JSON.stringify(value)}`).join(', ') || 'any event arrives'}`
        : 'and the conditions are too many to prove otherwise';
      problems.push({
        pointer: `/rules/${b.index}`,
        code: 'AMBIGUOUS_TARIFF',
        authoringOnly: true,
        message:
          `Rate rules "${a.rule.name}" (/rules/${a.index}) and "${b.rule.name}" (/rules/${b.index}) can both apply at priority ${priority}, ${when}. ` +
          'Give the more specific rule a higher priority, or make their conditions exclusive.',
      });
    }
  }
  return problems;
}
