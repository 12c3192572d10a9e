/**
 * Compiling a plan version: validate it, freeze it, build its fact tables, its json-rules-engine
 * engine and tariffs, and record exactly which facts its rules read. Done once per published
 * plan version; everything here is reused for every event.
 */
import type { RuleProperties } from 'json-rules-engine';
import { leavesOf } from '../domain/conditions';
import { PlanFactTables } from '../domain/derive-facts';
import type { FactName } from '../domain/facts';
import type { CompiledRule } from '../domain/outcome';
import type { PlanDocument } from '../domain/plan-types';
import { compileTariff } from '../domain/pricing';
import type { Problem } from '../validation/problem';
import { validatePlan, type ValidateOptions } from '../validation/validate-plan';
import { buildFactKeyers, type FactKeyer } from './fact-key';
import { SerialEngine } from './serial-engine';

export class PlanValidationError extends Error {
  readonly code = 'PLAN_INVALID';
  constructor(
    readonly planCode: string,
    readonly problems: Problem[],
  ) {
    super(`plan ${planCode} is invalid: ${problems.map((p) => `${p.pointer || '(document)'}: ${p.message}`).join('; ')}`);
    this.name = 'PlanValidationError';
  }
}

export interface CompiledPlan {
  readonly code: string;
  readonly version: string;
  readonly currency: string;
  readonly plan: Readonly<PlanDocument>;
  readonly tables: PlanFactTables;
  readonly rules: readonly CompiledRule[];
  readonly ruleByName: ReadonlyMap<string, CompiledRule>;
  /** The facts the plan's rules read, sorted: the only inputs of the rule outcome. */
  readonly readFacts: readonly FactName[];
  readonly factKeyers: ReadonlyMap<FactName, FactKeyer>;
  readonly engine: SerialEngine;
  readonly eligibilityEngine?: SerialEngine;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export interface CompileOptions extends Omit<ValidateOptions, 'mode'> {
  version: string;
}

/**
 * Validates in 'rating' mode: what rating needs to be safe (schema, facts, operators, values,
 * references, tiers, timezone, currency, one reading of every condition). Authoring-only rules
 * (AMOUNT_PRECISION, empty `all`/`any` lists, ambiguous tariffs) are for drafts and publishing:
 * a version published before them stays immutable and its pinned subscriptions must keep rating.
 */
export function compilePlan(planDoc: unknown, options: CompileOptions): CompiledPlan {
  const report = validatePlan(planDoc, { knownOffers: options.knownOffers, mode: 'rating' });
  const rawCode = typeof planDoc === 'object' && planDoc !== null ? String((planDoc as { code?: unknown }).code) : 'unknown';
  if (!report.valid) throw new PlanValidationError(rawCode, report.problems);
  // A private frozen copy: traces hand out params objects, and nobody may change a published version.
  const plan = deepFreeze(structuredClone(typeof planDoc === 'string' ? JSON.parse(planDoc) : planDoc) as PlanDocument);

  const rules: CompiledRule[] = plan.rules.map((rule, index) => ({
    index,
    name: rule.name,
    priority: rule.priority ?? 1,
    event: rule.event,
    tariff: rule.event.type === 'rate' ? compileTariff(rule.name, rule.event.params) : undefined,
  }));
  const readFacts = [...new Set(plan.rules.flatMap((rule) => leavesOf(rule.conditions).map(({ leaf }) => leaf.fact as FactName)))].sort();
  const engineRules: RuleProperties[] = plan.rules.map((rule) => ({
    name: rule.name,
    priority: rule.priority ?? 1,
    conditions: structuredClone(rule.conditions) as RuleProperties['conditions'],
    event: { type: rule.event.type },
  }));
  const eligibilityEngine = plan.eligibility
    ? new SerialEngine([{ name: 'eligible', conditions: structuredClone(plan.eligibility.conditions) as RuleProperties['conditions'], event: { type: 'eligible' } }])
    : undefined;

  return {
    code: plan.code,
    version: options.version,
    currency: plan.currency,
    plan,
    tables: new PlanFactTables(plan),
    rules,
    ruleByName: new Map(rules.map((rule) => [rule.name, rule])),
    readFacts,
    factKeyers: buildFactKeyers(plan.rules),
    engine: new SerialEngine(engineRules),
    eligibilityEngine,
  };
}
