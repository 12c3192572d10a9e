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
  const parsedConstants = sorted.map((constant) => parsePlainDecimal(constant.toFixed()));
  return (value) => {
    // json-rules-engine's numeric operators are false for non-numbers: one region for them all.
    if (!(typeof value === 'number' && Number.isSafeInteger(value)) && !isDecimalString(value)) {
      return typeof value === 'number' && Number.isFinite(value) ? `n${value}` : 'x';
    }
    const number = parsePlainDecimal(String(value));
    let region = 0;
    for (const constant of parsedConstants) {
      const comparison = comparePlainDecimals(number, constant);
      if (comparison < 0) break;
      if (comparison === 0) return String(region + 1);
      region += 2;
    }
    return String(region);
  };
}

interface PlainDecimal {
  negative: boolean;
  /** integer digits without leading zeros ("" for 0) */
  whole: string;
  /** fraction digits without trailing zeros */
  fraction: string;
}

/**
 * Exact comparison of decimal strings without allocating Decimals: this runs for every numeric
 * fact of every event, and decimal.js parsing dominated the hot path.
 */
function parsePlainDecimal(text: string): PlainDecimal {
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const dot = unsigned.indexOf('.');
  const whole = (dot === -1 ? unsigned : unsigned.slice(0, dot)).replace(/^0+/, '');
  const fraction = dot === -1 ? '' : unsigned.slice(dot + 1).replace(/0+$/, '');
  const zero = whole === '' && fraction === '';
  return { negative: negative && !zero, whole, fraction };
}

function compareMagnitude(a: PlainDecimal, b: PlainDecimal): number {
  if (a.whole.length !== b.whole.length) return a.whole.length < b.whole.length ? -1 : 1;
  if (a.whole !== b.whole) return a.whole < b.whole ? -1 : 1;
  if (a.fraction === b.fraction) return 0;
  // Same digit count to the left of the point, so plain string order of the fractions is numeric order.
  return a.fraction < b.fraction ? -1 : 1;
}

export function comparePlainDecimals(a: PlainDecimal, b: PlainDecimal): number {
  if (a.negative !== b.negative) return a.negative ? -1 : 1;
  const magnitude = compareMagnitude(a, b);
  return a.negative ? -magnitude : magnitude;
}

export function compareDecimalStrings(a: string, b: string): number {
  return comparePlainDecimals(parsePlainDecimal(a), parsePlainDecimal(b));
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
