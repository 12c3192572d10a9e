import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import { parseJsonDocument } from './parse-json';
import type { Problem, ValidationMode, ValidationReport } from './problem';
import { ambiguousTariffProblems } from './rate-ambiguity';
import { schemaProblems, validateOfferSchema, validatePlanSchema } from './schema-validator';
import { amountPrecisionProblems, conditionProblems, currencyProblems, offerAllowanceProblems, semanticProblems } from './semantic-validator';
import { isObject } from './util';

export interface ValidateOptions {
  /**
   * Offers published in the catalog (catalog/offers): `offer` rules may name them and `rate`
   * rules may consume their allowances (e.g. a roaming pass bucket).
   */
  knownOffers?: readonly OfferDocument[];
  /**
   * Codes of catalog offers no longer sold (RETIRED in the catalog). An `offer` rule or a
   * `compatibleOffers` entry naming one is OFFER_RETIRED (authoring-only: a version published while
   * the offer was sold still rates). Their allowances stay in `knownOffers`: passes bought before
   * keep their buckets until they lapse.
   */
  retiredOffers?: readonly string[];
  /**
   * 'authoring' (default) reports every problem. 'rating' is what compilePlan uses: problems marked
   * `authoringOnly` come back as `warnings` and leave the document valid, and the tariff ambiguity
   * analysis (an authoring rule: the engine resolves two rate rules at one priority by document
   * order and traces it) is skipped.
   */
  mode?: ValidationMode;
}

function parseInput(input: unknown): { ok: true; value: unknown } | { ok: false; problem: Problem } {
  return typeof input === 'string' ? parseJsonDocument(input) : { ok: true, value: input };
}

function report(problems: Problem[], mode: ValidationMode): ValidationReport {
  if (mode === 'authoring') return { valid: problems.length === 0, problems };
  const blocking = problems.filter((problem) => !problem.authoringOnly);
  return { valid: blocking.length === 0, problems: blocking, warnings: problems.filter((problem) => problem.authoringOnly) };
}

/**
 * Validates a plan document (object, or JSON text). Problems come in document order of
 * discovery: schema, then references and facts, then ambiguous tariffs (only checked once the
 * rules themselves are well-formed, since it evaluates them, and only when authoring).
 */
export function validatePlan(input: unknown, options: ValidateOptions = {}): ValidationReport {
  const mode = options.mode ?? 'authoring';
  const parsed = parseInput(input);
  if (!parsed.ok) return { valid: false, problems: [parsed.problem] };
  const document = parsed.value;
  if (!isObject(document)) {
    return { valid: false, problems: [{ pointer: '', code: 'INVALID_TYPE', message: 'A plan document must be a JSON object.' }] };
  }
  const problems = [...schemaProblems(validatePlanSchema, document)];
  const plan = document as unknown as PlanDocument;
  problems.push(...semanticProblems(plan, options.knownOffers ?? [], options.retiredOffers ?? []));
  // Authoring-only problems (an empty list, an amount's precision) leave the rules well-formed enough to evaluate.
  const rulesWellFormed = !problems.some((problem) => !problem.authoringOnly && (problem.pointer.startsWith('/rules') || problem.pointer.startsWith('/zones')));
  if (mode === 'authoring' && rulesWellFormed && Array.isArray(plan.rules)) problems.push(...ambiguousTariffProblems(plan));
  return report(problems, mode);
}

export function validateOffer(input: unknown): ValidationReport {
  const parsed = parseInput(input);
  if (!parsed.ok) return { valid: false, problems: [parsed.problem] };
  const document = parsed.value;
  if (!isObject(document)) {
    return { valid: false, problems: [{ pointer: '', code: 'INVALID_TYPE', message: 'An offer document must be a JSON object.' }] };
  }
  const problems = [...schemaProblems(validateOfferSchema, document)];
  const offer = document as unknown as OfferDocument;
  problems.push(...currencyProblems(offer.currency));
  problems.push(...amountPrecisionProblems(offer.currency, [['/price', offer.price]]));
  problems.push(...offerAllowanceProblems(offer.allowances));
  return { valid: problems.length === 0, problems };
}

export { conditionProblems };
