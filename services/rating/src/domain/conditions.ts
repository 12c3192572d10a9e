/**
 * Plan rule conditions: walking them, and evaluating them with exactly json-rules-engine's
 * semantics (used by the static overlap analysis, which must agree with the engine).
 */
import { Decimal, isDecimalString } from './decimal';
import type { Condition, ConditionLeaf } from './plan-types';

/**
 * The boolean key json-rules-engine reads from a node, in its order of precedence (condition.js
 * booleanOperator: `any`, then `all`, then `not`). A node with one is a boolean node whatever
 * else it holds: its fact/operator/value are ignored (the validator refuses such mixed nodes).
 */
export function booleanKeyOf(condition: Condition): 'any' | 'all' | 'not' | undefined {
  if (typeof condition !== 'object' || condition === null) return undefined;
  const has = (key: string) => Object.prototype.hasOwnProperty.call(condition, key);
  return has('any') ? 'any' : has('all') ? 'all' : has('not') ? 'not' : undefined;
}

/** A leaf as json-rules-engine sees it: a `fact` and no boolean key. */
export function isLeaf(condition: Condition): condition is ConditionLeaf {
  return typeof condition === 'object' && condition !== null && 'fact' in condition && booleanKeyOf(condition) === undefined;
}

/** Every leaf of a condition tree with its JSON pointer (relative to `basePointer`). */
export function leavesOf(condition: Condition, basePointer = ''): Array<{ leaf: ConditionLeaf; pointer: string }> {
  const leaves: Array<{ leaf: ConditionLeaf; pointer: string }> = [];
  const walk = (node: Condition, pointer: string): void => {
    if (isLeaf(node)) {
      leaves.push({ leaf: node, pointer });
      return;
    }
    const key = booleanKeyOf(node);
    if (key === 'any' || key === 'all') {
      const children = (node as Record<string, unknown>)[key];
      if (Array.isArray(children)) children.forEach((child: Condition, i) => walk(child, `${pointer}/${key}/${i}`));
    } else if (key === 'not' && (node as { not: Condition }).not) walk((node as { not: Condition }).not, `${pointer}/not`);
  };
  walk(condition, basePointer);
  return leaves;
}

function isNumeric(value: unknown): value is number | string {
  return (typeof value === 'number' && Number.isFinite(value)) || isDecimalString(value);
}

/** Exact comparison of two decimal strings / integers: -1, 0 or 1. */
export function compareNumeric(a: number | string, b: number | string): number {
  return new Decimal(a).comparedTo(new Decimal(b));
}

/**
 * Replacements for json-rules-engine's numeric operators. The defaults compare with JS `<` on
 * whatever they get, i.e. floats; plan thresholds are decimal strings ("0.8", "150.00") and must
 * be compared exactly.
 */
export const DECIMAL_OPERATORS: Record<string, (a: unknown, b: unknown) => boolean> = {
  lessThan: (a, b) => isNumeric(a) && isNumeric(b) && compareNumeric(a, b) < 0,
  lessThanInclusive: (a, b) => isNumeric(a) && isNumeric(b) && compareNumeric(a, b) <= 0,
  greaterThan: (a, b) => isNumeric(a) && isNumeric(b) && compareNumeric(a, b) > 0,
  greaterThanInclusive: (a, b) => isNumeric(a) && isNumeric(b) && compareNumeric(a, b) >= 0,
};

/** json-rules-engine's semantics for the operators plans may use. */
export function applyOperator(operator: string, factValue: unknown, value: unknown): boolean {
  switch (operator) {
    case 'equal':
      return factValue === value;
    case 'notEqual':
      return factValue !== value;
    case 'in':
      return Array.isArray(value) && value.indexOf(factValue) > -1;
    case 'notIn':
      return Array.isArray(value) && value.indexOf(factValue) === -1;
    case 'contains':
      return Array.isArray(factValue) && factValue.indexOf(value) > -1;
    case 'doesNotContain':
      return Array.isArray(factValue) && factValue.indexOf(value) === -1;
    default: {
      const numeric = DECIMAL_OPERATORS[operator];
      if (!numeric) throw new Error(`unknown operator ${operator}`);
      return numeric(factValue, value);
    }
  }
}

/**
 * json-rules-engine's result for a condition: boolean keys take precedence over a leaf's keys
 * (any, then all, then not), and an empty `all` or `any` list holds (rule.js prioritizeAndRun:
 * "if (conditions.length === 0) return true"), `any` included. The validator refuses empty lists,
 * but what it evaluates must still be what the engine would do.
 */
export function evaluateCondition(condition: Condition, facts: Record<string, unknown>): boolean {
  const key = booleanKeyOf(condition);
  if (key === undefined) {
    const leaf = condition as ConditionLeaf;
    return applyOperator(leaf.operator, facts[leaf.fact], leaf.value);
  }
  if (key === 'not') return !evaluateCondition((condition as { not: Condition }).not, facts);
  const children = (condition as Record<string, Condition[]>)[key];
  if (children.length === 0) return true;
  return key === 'all' ? children.every((child) => evaluateCondition(child, facts)) : children.some((child) => evaluateCondition(child, facts));
}
