/**
 * Plan rule conditions: walking them, and evaluating them with exactly json-rules-engine's
 * semantics (used by the static overlap analysis, which must agree with the engine).
 */
import { Decimal, isDecimalString } from './decimal';
import type { Condition, ConditionLeaf } from './plan-types';

export function isLeaf(condition: Condition): condition is ConditionLeaf {
  return typeof condition === 'object' && condition !== null && 'fact' in condition;
}

/** Every leaf of a condition tree with its JSON pointer (relative to `basePointer`). */
export function leavesOf(condition: Condition, basePointer = ''): Array<{ leaf: ConditionLeaf; pointer: string }> {
  const leaves: Array<{ leaf: ConditionLeaf; pointer: string }> = [];
  const walk = (node: Condition, pointer: string): void => {
    if (isLeaf(node)) {
      leaves.push({ leaf: node, pointer });
      return;
    }
    if ('all' in node && Array.isArray(node.all)) node.all.forEach((child, i) => walk(child, `${pointer}/all/${i}`));
    else if ('any' in node && Array.isArray(node.any)) node.any.forEach((child, i) => walk(child, `${pointer}/any/${i}`));
    else if ('not' in node && node.not) walk(node.not, `${pointer}/not`);
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

export function evaluateCondition(condition: Condition, facts: Record<string, unknown>): boolean {
  if (isLeaf(condition)) return applyOperator(condition.operator, facts[condition.fact], condition.value);
  if ('all' in condition) return condition.all.every((child) => evaluateCondition(child, facts));
  if ('any' in condition) return condition.any.some((child) => evaluateCondition(child, facts));
  return !evaluateCondition(condition.not, facts);
}
