/**
 * @ledgerline/rating: plan documents (JSON rules) → validated, compiled plan versions → exact
 * rating of usage events, plus the catalog tooling around it. The only entry point.
 */
export { FACTS, FACT_NAMES, USAGE_STATE_FACTS, NOTICE_EVENT_TYPES, OPERATORS_BY_TYPE, USAGE_TYPES, UNIT_OF_USAGE_TYPE, DIRECTIONS, TIME_BANDS, DAY_TYPES, LINE_STATUSES } from './domain/facts';
export type { FactDefinition, FactName, FactType, RatingFacts, UsageType, LineStatus, AccountType, CustomerType } from './domain/facts';
export type * from './domain/plan-types';
export type { UsageEvent, SubscriberContext } from './domain/usage';
export { RatingInputError } from './domain/usage';
export { MAX_QUANTITY_DECIMALS, HOME_ZONE, NO_DESTINATION, ROAMING_LABEL_PREFIX } from './domain/derive-facts';
export { checkUsageFields, usageEventOf, fieldText, quantityText, MAX_QUANTITY, MAX_CLOCK_SKEW_MS, type UsageFields, type UsageFieldCode, type UsageFieldRejection, type UsageFieldsResult, type UsageFieldsOptions } from './domain/usage-fields';
export type { RatingResult, AppliedAdjustment, RatingNotification } from './domain/rating-result';
export { priceUnits } from './domain/rating-result';
export { chargeAmountOf, ledgerMoneyFor, uncoveredMoney, LEDGER_SCALE, type LedgerRounding } from './domain/ledger-money';
export type { TraceEntry } from './domain/outcome';
export type { CompiledTariff, IncrementGrid } from './domain/pricing';
export { partChargeableUnits, callTotalCovered } from './domain/pricing';

export { validatePlan, validateOffer, type ValidateOptions } from './validation/validate-plan';
export type { Problem, ValidationMode, ValidationReport } from './validation/problem';
export { allowancesInScope } from './validation/semantic-validator';

export { compilePlan, PlanValidationError, type CompiledPlan, type CompileOptions } from './engine/compile-plan';
export { ratePlain, noticesAfterPlain } from './engine/rate-plain';
export { createRater, type Rater, type RaterStats } from './engine/cached-rater';
export { checkEligibility, type EligibilityFacts } from './engine/eligibility';

export { loadCatalogDir, type LoadedCatalog, type CatalogFileProblem } from './catalog/load-catalog';
export { diffPlans, type PatchOperation } from './catalog/diff-plans';
export { simulate, comparePlans, type SimulationReport, type SimulatedCharge, type PlanCost } from './catalog/simulate';
