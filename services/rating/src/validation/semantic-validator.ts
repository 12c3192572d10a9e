/**
 * Checks a JSON Schema cannot express: facts and operators rules may use, values in each fact's
 * domain, references between parts of the plan (allowance ids, offers), tier ordering,
 * timezone and currency validity. Written defensively: it also runs on documents the schema
 * rejected, so one pass reports as many mistakes as possible.
 */
import { isCurrencyCode, LONGEST_MSISDN, minorUnits, ONE_OFF_DESCRIPTION_MAX, planChangeWording, planFeeDescription } from '@ledgerline/contracts';
import { isDecimalString, Decimal } from '../domain/decimal';
import { LEDGER_SCALE } from '../domain/ledger-money';
import { FACT_NAMES, FACTS, isFactName, OPERATORS_BY_TYPE, ALL_OPERATORS, UNIT_OF_USAGE_TYPE, type FactScope } from '../domain/facts';
import { isValidTimezone } from '../domain/local-time';
import type { Allowance, Condition, OfferDocument, PlanDocument } from '../domain/plan-types';
import { enumDomain } from './fact-domains';
import { didYouMean, type Problem } from './problem';
import { isObject } from './util';
import { allowanceUnitProblems, rateUnitProblems } from './rate-units';
import { emptyTimeWindowProblems, holidayDateProblems, reservedZoneNameProblems } from './zones-and-time-bands';

type Json = Record<string, unknown>;

/** The units usage counts quantities in (the schema's `unit`). */
const UNITS: readonly string[] = [...new Set(Object.values(UNIT_OF_USAGE_TYPE))];


/**
 * Adjustment scopes invoicing applies (services/invoicing `planRuleDiscounts`: INVOICE, USAGE,
 * RECURRING; `planRuleSurcharges`: INVOICE; USAGE and RECURRING only on `discount` rules, the
 * schema says so); rating lists such an adjustment on the event with nothing applied.
 */
const INVOICE_LEVEL_SCOPES: readonly string[] = ['INVOICE', 'USAGE', 'RECURRING'];

/** The comparisons invoicing evaluates on an account fact (a number), what `planRuleDiscounts` reads. */
const INVOICE_OPERATORS = ['equal', 'notEqual', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'];

/**
 * Invoicing decides an invoice-level `discount` rule (scope INVOICE, USAGE or RECURRING) or
 * `surcharge` rule (scope INVOICE) itself, from the account's lines in the period: conditions a
 * flat "all" or "any" list of `lineCount` comparisons. Anything else is not what invoicing applies:
 * a condition reading another fact, an `in` list or a nested group is held false, and a top-level
 * "not" is not read at all (the adjustment would apply to every account). Authoring-only: rating
 * does not depend on it.
 */
function invoiceLevelAdjustmentProblems(rule: Json, at: string, kind: 'discount' | 'surcharge'): Problem[] {
  const conditions = rule.conditions;
  if (!isObject(conditions)) return [];
  const authoringOnly = true as const;
  const what = kind === 'discount' ? 'an invoice-level discount (scope INVOICE, USAGE or RECURRING)' : 'an invoice-level surcharge (scope INVOICE)';
  if ('not' in conditions && !('all' in conditions) && !('any' in conditions)) {
    return [{ pointer: `${at}/conditions/not`, code: 'INVALID_CONDITION', authoringOnly, message: `Invoicing applies ${what} when its conditions, an "all" or "any" list of lineCount comparisons, hold; it does not read "not". Write the opposite comparison instead, e.g. {"all": [{"fact": "lineCount", "operator": "lessThan", "value": 4}]}.` }];
  }
  const key = 'all' in conditions ? 'all' : 'any';
  const never = key === 'all' ? ` and the ${kind} never applies` : '';
  const problems: Problem[] = [];
  asArray(conditions[key]).forEach((leaf, i) => {
    const leafAt = `${at}/conditions/${key}/${i}`;
    if (!isObject(leaf) || !('fact' in leaf)) {
      problems.push({ pointer: leafAt, code: 'INVALID_CONDITION', authoringOnly, message: `Invoicing reads the conditions of ${what} as one flat "${key}" list of lineCount comparisons, not nested groups: it holds a group false${never}. Flatten it.` });
      return;
    }
    // Unknown facts and operators are reported by conditionProblems already.
    if (typeof leaf.fact === 'string' && isFactName(leaf.fact) && leaf.fact !== 'lineCount') {
      problems.push({ pointer: `${leafAt}/fact`, code: 'FACT_NOT_ALLOWED_HERE', authoringOnly, message: `Fact "${leaf.fact}" is for rating, per event; invoicing decides ${what} once per invoice and knows only "lineCount", so it holds this condition false${never}. Use "lineCount", or scope EVENT to ${kind} matching events.` });
    } else if (leaf.fact === 'lineCount' && typeof leaf.operator === 'string' && ALL_OPERATORS.includes(leaf.operator) && !INVOICE_OPERATORS.includes(leaf.operator)) {
      problems.push({ pointer: `${leafAt}/operator`, code: 'OPERATOR_NOT_ALLOWED', authoringOnly, message: `Invoicing compares "lineCount" with one number for ${what}; "${leaf.operator}" is held false${never}. Use one of: ${INVOICE_OPERATORS.join(', ')}.` });
    }
  });
  return problems;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * A currency the platform can bill in: contracts' ISO 4217 table, the same one minorUnits (and so
 * proration, invoices and payments) reads. A problem at /currency; none when it is fine or
 * not a three-letter code at all (the schema reports that).
 */
export function currencyProblems(currency: unknown): Problem[] {
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency) || isCurrencyCode(currency)) return [];
  return [{ pointer: '/currency', code: 'UNKNOWN_CURRENCY', message: `"${currency}" is not an ISO 4217 currency the platform bills in; use a current code with minor units such as "EUR", "CAD" or "JPY" (not a fund, metal or withdrawn code).` }];
}

/**
 * Money amounts that are charged or held as they are (fees, add-on and offer prices, balance
 * limits, committed-spend amounts, invoice-level adjustments) may not be finer than the
 * currency's minor unit: 100.5 JPY cannot be invoiced or paid. Usage prices (pricePerUnit,
 * tiers, EVENT adjustments) are sub-cent by design and rounded per invoice line, so they are
 * not checked here. An authoring rule: versions published before it (the schema allows 6
 * decimals) still rate, and invoicing rounds their fee lines.
 */
export function amountPrecisionProblems(currency: unknown, amounts: ReadonlyArray<readonly [pointer: string, amount: unknown]>): Problem[] {
  if (!isCurrencyCode(currency)) return [];
  const digits = minorUnits(currency);
  const problems: Problem[] = [];
  for (const [pointer, amount] of amounts) {
    if (!isDecimalString(amount) || new Decimal(amount).decimalPlaces() <= digits) continue;
    problems.push({
      pointer,
      code: 'AMOUNT_PRECISION',
      authoringOnly: true,
      message: `${amount} ${currency} is finer than the currency's minor unit: ${currency} amounts have ${digits === 0 ? 'no decimals' : `at most ${digits} decimal${digits === 1 ? '' : 's'}`}. Round it, e.g. to ${new Decimal(amount).toDecimalPlaces(digits, Decimal.ROUND_HALF_UP).toFixed(digits)}.`,
    });
  }
  return problems;
}

function planAmounts(plan: PlanDocument): Array<readonly [string, unknown]> {
  const amounts: Array<readonly [string, unknown]> = [];
  const field = (container: unknown, key: string, pointer: string) => {
    if (isObject(container) && container[key] !== undefined) amounts.push([`${pointer}/${key}`, container[key]]);
  };
  field(plan.recurringFee, 'amount', '/recurringFee');
  asArray(plan.oneOffFees).forEach((fee, i) => field(fee, 'amount', `/oneOffFees/${i}`));
  asArray(plan.addOns).forEach((addOn, i) => field(addOn, 'price', `/addOns/${i}`));
  for (const key of ['overdraftLimit', 'creditLimitHint']) field(plan.balancePolicy, key, '/balancePolicy');
  for (const key of ['budget', 'threshold', 'replenishAmount']) field(plan.committedSpend, key, '/committedSpend');
  asArray(plan.rules).forEach((rule, i) => {
    const event = isObject(rule) && isObject(rule.event) ? rule.event : undefined;
    const params = event && isObject(event.params) ? event.params : undefined;
    if (params && (event!.type === 'discount' || event!.type === 'surcharge') && INVOICE_LEVEL_SCOPES.includes(params.scope as string)) field(params, 'amount', `/rules/${i}/event/params`);
  });
  return amounts;
}

/**
 * Upper bounds of plan amounts (exclusive), from the columns they land in. The smallest column a plan
 * amount is written to as it is: invoicing's `invoice_line.unit_price` NUMERIC(18,6), 12 whole digits
 * (a fee's, an add-on's or a usage line's unit price; an offer's price, the same NUMERIC(18,6), is
 * bounded alike by the catalog's importOffer), and wallets refuses entered amounts (budgets, limits)
 * from 10^12 as AMOUNT_TOO_LARGE (`requireLedgerSize`). So fees, add-on prices, balance-policy and
 * committed-spend amounts, adjustment amounts and tier flat fees: below 10^12.
 */
export const MAX_PLAN_AMOUNT = new Decimal(10).pow(12);
/**
 * A unit price is multiplied by an event's quantity before it lands anywhere: usage stores the
 * event's price as NUMERIC(20,6) (below 10^14, as invoicing's line amounts NUMERIC(18,4)). With
 * 10^6 units as the most one event realistically carries (11.5 days of voice in seconds, ~1 TB of
 * data in MB, a million messages or items), a unit price below 10^14 / 10^6 = 10^8 keeps such an
 * event's price storable (and the unit price itself within invoice_line.unit_price's 10^12). 10^8
 * still leaves room for high-denomination currencies (about 100 USD per unit in IRR or LBP).
 */
export const MAX_UNIT_PRICE = new Decimal(10).pow(8);

/**
 * Amounts past their bound (MAX_PLAN_AMOUNT / MAX_UNIT_PRICE): AMOUNT_TOO_LARGE at the pointer.
 * Authoring-only: a version published before the bound rates as it did (an event whose price cannot
 * be stored fails as it always did, the version's other events still rate).
 */
function amountSizeProblems(currency: unknown, amounts: ReadonlyArray<readonly [pointer: string, amount: unknown, limit: Decimal]>): Problem[] {
  const problems: Problem[] = [];
  const money = typeof currency === 'string' ? ` ${currency}` : '';
  for (const [pointer, amount, limit] of amounts) {
    if (!isDecimalString(amount) || new Decimal(amount).lt(limit)) continue;
    const what = limit === MAX_UNIT_PRICE
      ? `A price per unit must be below ${limit.toFixed()}: it is multiplied by an event's quantity, and an event's price must fit the 14 whole digits usage stores it in`
      : `An amount must be below ${limit.toFixed()}: that is what invoice lines and the wallets ledger hold`;
    problems.push({ pointer, code: 'AMOUNT_TOO_LARGE', authoringOnly: true, message: `${amount}${money} is too large. ${what}. Check for a slipped key or a missing decimal point.` });
  }
  return problems;
}

/**
 * A `rate` rule's prices and EVENT-scope adjustment amounts, each with its bound: what rating turns
 * into an event's price (the fees and invoice-level amounts are planAmounts).
 */
function usageAmounts(plan: PlanDocument): Array<readonly [string, unknown, Decimal]> {
  const amounts: Array<readonly [string, unknown, Decimal]> = [];
  asArray(plan.rules).forEach((rule, i) => {
    const event = isObject(rule) && isObject(rule.event) ? rule.event : undefined;
    const params = event && isObject(event.params) ? event.params : undefined;
    if (!params) return;
    const at = `/rules/${i}/event/params`;
    if (event!.type === 'rate') {
      if (params.pricePerUnit !== undefined) amounts.push([`${at}/pricePerUnit`, params.pricePerUnit, MAX_UNIT_PRICE]);
      const table = isObject(params.priceTable) ? params.priceTable : undefined;
      asArray(table?.tiers).forEach((tier, j) => {
        if (!isObject(tier)) return;
        if (tier.unitPrice !== undefined) amounts.push([`${at}/priceTable/tiers/${j}/unitPrice`, tier.unitPrice, MAX_UNIT_PRICE]);
        if (tier.flatFee !== undefined) amounts.push([`${at}/priceTable/tiers/${j}/flatFee`, tier.flatFee, MAX_PLAN_AMOUNT]);
      });
    }
    if ((event!.type === 'discount' || event!.type === 'surcharge') && params.scope === 'EVENT' && params.amount !== undefined) amounts.push([`${at}/amount`, params.amount, MAX_PLAN_AMOUNT]);
  });
  return amounts;
}

/**
 * What rating prices an event with must fit the 6 places (LEDGER_SCALE) usage stores an event's price
 * in (NUMERIC(20,6)) and the wallets ledger charges it at (half-even, chargeAmountOf): a rule rounding
 * at scale 8 was rated 0.00000001 and charged 0, whatever its rounding mode said (ROUNDING_TOO_FINE at
 * `…/rounding/scale`); a usage price with more decimals (AMOUNT_PRECISION) cannot be charged as written
 * for one unit, and a pricePerUnit from 7 decimals reached wallets as "1e-7", which it refuses. Fees and
 * other amounts charged as they are have the currency's minor unit already (amountPrecisionProblems).
 * Authoring-only: the schema allowed scales to 10, and a version published with one rates as it did.
 */
function ledgerScaleProblems(plan: PlanDocument): Problem[] {
  const problems: Problem[] = [];
  asArray(plan.rules).forEach((rule, i) => {
    const event = isObject(rule) && isObject(rule.event) ? rule.event : undefined;
    const params = event && isObject(event.params) ? event.params : undefined;
    const rounding = event?.type === 'rate' && params && isObject(params.rounding) ? params.rounding : undefined;
    if (!rounding || typeof rounding.scale !== 'number' || !(rounding.scale > LEDGER_SCALE)) return;
    const mode = typeof rounding.mode === 'string' ? rounding.mode : 'HALF_UP';
    problems.push({
      pointer: `/rules/${i}/event/params/rounding/scale`,
      code: 'ROUNDING_TOO_FINE',
      authoringOnly: true,
      message: `Rounding to ${rounding.scale} decimals is finer than the ${LEDGER_SCALE} places usage stores an event's price in and the wallets ledger charges it at (half-even): the price would be rounded again there, not as this rule says. Use a scale of at most ${LEDGER_SCALE}, e.g. {"mode": "${mode}", "scale": ${LEDGER_SCALE}}.`,
    });
  });
  for (const [pointer, amount] of usageAmounts(plan)) {
    if (!isDecimalString(amount) || new Decimal(amount).decimalPlaces() <= LEDGER_SCALE) continue;
    const rounded = new Decimal(amount).toDecimalPlaces(LEDGER_SCALE, Decimal.ROUND_HALF_UP);
    const hint = rounded.isZero() ? `the smallest price it can charge is ${new Decimal(10).pow(-LEDGER_SCALE).toFixed(LEDGER_SCALE)}` : `e.g. ${rounded.toFixed()}`;
    problems.push({
      pointer,
      code: 'AMOUNT_PRECISION',
      authoringOnly: true,
      message: `${amount} has more than ${LEDGER_SCALE} decimals: usage stores prices and the wallets ledger charges them at ${LEDGER_SCALE} places, so it would not be charged as written. Round it to at most ${LEDGER_SCALE} decimals (${hint}).`,
    });
  }
  return problems;
}

export function conditionProblems(condition: unknown, pointer: string, scope: FactScope, plan: PlanDocument): Problem[] {
  const problems: Problem[] = [];
  const allowedFacts = FACT_NAMES.filter((name) => (FACTS[name].scopes as readonly string[]).includes(scope));
  const walk = (node: unknown, at: string): void => {
    if (!isObject(node)) {
      problems.push({ pointer: at, code: 'INVALID_CONDITION', message: 'A condition must be an object: {"all": [...]}, {"any": [...]}, {"not": {...}} or {"fact", "operator", "value"}.' });
      return;
    }
    const keys = ['all', 'any', 'not'].filter((key) => key in node);
    const leafKeys = ['fact', 'operator', 'value'].filter((key) => key in node);
    if (keys.length > 0 && leafKeys.length > 0) {
      // json-rules-engine reads such a node as its boolean part and ignores the leaf: the rule would
      // test facts the compiler never derives (every event fails) or fire on the wrong events.
      // Not authoring-only: no reading of the document rates what it says, so compiling refuses it too.
      problems.push({
        pointer: at,
        code: 'INVALID_CONDITION',
        message: `A condition is either a leaf {"fact", "operator", "value"} or a group {"${keys[0]}": ...}, not both: this one has ${[...leafKeys, ...keys].map((key) => `"${key}"`).join(', ')}. Put the leaf inside the group, beside the other conditions, e.g. {"all": [{"fact": ...}, {"${keys[0]}": ...}]}.`,
      });
      return;
    }
    if ('fact' in node) {
      for (const unsupported of ['path', 'params', 'condition']) {
        if (unsupported in node) {
          problems.push({ pointer: `${at}/${unsupported}`, code: 'INVALID_CONDITION', message: `"${unsupported}" is not supported in plan conditions; facts are plain values, compare them directly.` });
        }
      }
      leafProblems(node, at);
      return;
    }
    if ('condition' in node) {
      problems.push({ pointer: `${at}/condition`, code: 'INVALID_CONDITION', message: 'Shared condition references are not supported; write the condition inline.' });
      return;
    }
    if (keys.length !== 1) {
      problems.push({ pointer: at, code: 'INVALID_CONDITION', message: 'A condition needs exactly one of "all", "any", "not", or a "fact" with "operator" and "value".' });
      return;
    }
    const key = keys[0];
    if (key === 'not') walk(node.not, `${at}/not`);
    else if (Array.isArray(node[key]) && node[key].length === 0) {
      // json-rules-engine holds an empty list true, for "any" too: the rule would fire for every event.
      // Authoring-only: the engine, the compiler and evaluateCondition all read it as true, so a
      // version published with one (e.g. an {"all": []} catch-all) rates as it always did.
      problems.push({
        pointer: `${at}/${key}`,
        code: 'INVALID_CONDITION',
        authoringOnly: true,
        message: `An empty "${key}" list is always true for the rating engine, so the rule would apply to every event. Add conditions, or remove the rule to switch it off.`,
      });
    } else asArray(node[key]).forEach((child, i) => walk(child, `${at}/${key}/${i}`));
  };
  const leafProblems = (leaf: Json, at: string): void => {
    const fact = leaf.fact;
    if (typeof fact !== 'string' || !isFactName(fact)) {
      problems.push({ pointer: `${at}/fact`, code: 'UNKNOWN_FACT', message: `Unknown fact ${JSON.stringify(fact)}.${didYouMean(String(fact), allowedFacts)} Facts rules can read: ${allowedFacts.join(', ')}.` });
      return;
    }
    if (!(FACTS[fact].scopes as readonly string[]).includes(scope)) {
      problems.push({ pointer: `${at}/fact`, code: 'FACT_NOT_ALLOWED_HERE', message: `Fact "${fact}" cannot be used in ${scope === 'rating' ? 'rating rules' : 'eligibility conditions'}. Use one of: ${allowedFacts.join(', ')}.` });
      return;
    }
    const definition = FACTS[fact];
    const operator = leaf.operator;
    if (typeof operator !== 'string' || !ALL_OPERATORS.includes(operator)) {
      problems.push({ pointer: `${at}/operator`, code: 'UNKNOWN_OPERATOR', message: `Unknown operator ${JSON.stringify(operator)}.${didYouMean(String(operator), OPERATORS_BY_TYPE[definition.type])} For "${fact}" use: ${OPERATORS_BY_TYPE[definition.type].join(', ')}.` });
      return;
    }
    if (!OPERATORS_BY_TYPE[definition.type].includes(operator)) {
      problems.push({ pointer: `${at}/operator`, code: 'OPERATOR_NOT_ALLOWED', message: `Operator "${operator}" does not apply to "${fact}" (${definition.type}). Use one of: ${OPERATORS_BY_TYPE[definition.type].join(', ')}.` });
      return;
    }
    const listOperator = operator === 'in' || operator === 'notIn';
    if (listOperator && !Array.isArray(leaf.value)) {
      problems.push({ pointer: `${at}/value`, code: 'INVALID_FACT_VALUE', message: `"${operator}" needs a list of values, e.g. ["EU", "WORLD1"].` });
      return;
    }
    const values = listOperator ? (leaf.value as unknown[]) : [leaf.value];
    values.forEach((value, i) => {
      const valuePointer = listOperator ? `${at}/value/${i}` : `${at}/value`;
      const domain = enumDomain(fact, plan);
      if (domain) {
        if (!domain.includes(value as never)) {
          const hint = typeof value === 'string' ? didYouMean(value, domain.map(String)) : '';
          problems.push({ pointer: valuePointer, code: 'INVALID_FACT_VALUE', message: `${JSON.stringify(value)} is not a possible value of "${fact}".${hint} Possible values: ${domain.map((v) => JSON.stringify(v)).join(', ')}.` });
        }
      } else if (definition.type === 'decimal' && !(isDecimalString(value) || (typeof value === 'number' && Number.isInteger(value)))) {
        problems.push({ pointer: valuePointer, code: 'INVALID_FACT_VALUE', message: `"${fact}" is compared with decimal strings such as "0.8"; got ${JSON.stringify(value)}.` });
      } else if (definition.type === 'integer' && !(typeof value === 'number' && Number.isSafeInteger(value))) {
        problems.push({ pointer: valuePointer, code: 'INVALID_FACT_VALUE', message: `"${fact}" is a whole number; got ${JSON.stringify(value)}.` });
      } else if (definition.type === 'codeList' && !(typeof value === 'string' && /^[A-Z][A-Z0-9_]+$/.test(value))) {
        problems.push({ pointer: valuePointer, code: 'INVALID_FACT_VALUE', message: `"${fact}" holds codes such as "ROAM_EU_PASS_7D"; got ${JSON.stringify(value)}.` });
      }
    });
  };
  walk(condition, pointer);
  return problems;
}

/**
 * `ofPlan`: a plan's or add-on's allowances, whose `usageTypes` pick the relevant allowance (allowanceUsedRatio) and
 * are checked against the unit; an offer's `usageTypes` are descriptive (catalog/README, Offers) and are not.
 */
function allowanceProblems(allowances: unknown[], pointer: string, ofPlan = false): Problem[] {
  const problems: Problem[] = [];
  allowances.forEach((raw, i) => {
    if (!isObject(raw)) return;
    const allowance = raw as unknown as Allowance;
    const at = `${pointer}/${i}`;
    if (allowance.unlimited && allowance.quantity !== undefined) {
      problems.push({ pointer: `${at}/quantity`, code: 'INVALID_ALLOWANCE', message: 'An unlimited allowance has no quantity; set a "fairUseCap" instead.' });
    }
    if (!allowance.unlimited && allowance.quantity === undefined) {
      problems.push({ pointer: `${at}/quantity`, code: 'MISSING_FIELD', message: 'Give the allowance a "quantity", or set "unlimited": true with a "fairUseCap".' });
    }
    if (!allowance.unlimited && allowance.fairUseCap !== undefined) {
      problems.push({ pointer: `${at}/fairUseCap`, code: 'INVALID_ALLOWANCE', message: 'A fair-use cap only applies to an unlimited allowance.' });
    }
    // Wallets grants an unlimited allowance as a bucket of its fair-use cap (and charges the rate rule's price past it);
    // without a cap it grants nothing, so every unit rated into it would be charged in money while usage counts it free.
    // Authoring only: a version published before this check still rates as it did.
    if (allowance.unlimited === true && allowance.fairUseCap === undefined) {
      problems.push({
        pointer: `${at}/fairUseCap`, code: 'MISSING_FIELD', authoringOnly: true,
        message: 'Give the unlimited allowance a "fairUseCap" (units of the allowance, e.g. "180000" seconds): its bucket is granted at the cap and the rate rule\'s price applies past it. Without one no bucket is granted and every unit would be charged at that price.',
      });
    }
    // Its unit against the usage types it covers (authoring only, as the rate rule's unit check).
    if (ofPlan) problems.push(...allowanceUnitProblems(allowance, at));
  });
  return problems;
}

/** The allowances of an offer (the same checks as a plan's: wallets grants them alike). */
export function offerAllowanceProblems(allowances: unknown): Problem[] {
  return allowanceProblems(asArray(allowances), '/allowances');
}

/** The plan's allowances, then its add-ons', each with its pointer (objects only: this also runs on documents the schema refused). */
function placedAllowances(plan: PlanDocument): Array<[Allowance, string]> {
  return [
    ...asArray(plan.allowances).map((a, i) => [a, `/allowances/${i}`] as [unknown, string]),
    ...asArray(plan.addOns).flatMap((addOn, j) => asArray(isObject(addOn) ? addOn.allowances : []).map((a, i) => [a, `/addOns/${j}/allowances/${i}`] as [unknown, string])),
  ].filter(([a]) => isObject(a)) as Array<[Allowance, string]>;
}

/**
 * The allowances a `rate` rule's `allowanceId` may name, by id, as validation resolves them (and so
 * whether a version compiles: UNIT_MISMATCH): the plan's and its add-ons' first (an id repeated
 * there: the last, after DUPLICATE_ID), then the offers', in the order given (an id in several
 * offers: the first). The catalog's importOffer checks published versions' references with it.
 */
export function allowancesInScope(plan: PlanDocument, knownOffers: readonly OfferDocument[]): Map<string, Allowance> {
  const allowanceById = new Map<string, Allowance>();
  for (const [allowance] of placedAllowances(plan)) allowanceById.set(allowance.id, allowance);
  for (const offer of knownOffers) {
    for (const allowance of asArray(offer.allowances)) {
      if (isObject(allowance) && !allowanceById.has((allowance as unknown as Allowance).id)) allowanceById.set((allowance as unknown as Allowance).id, allowance as unknown as Allowance);
    }
  }
  return allowanceById;
}

const characters = (text: string): number => [...text].length;

/**
 * A one-off fee whose charge description (subscribers' `planFeeDescription`: "<name> for <MSISDN>",
 * a PLAN_CHANGE fee's "... (to <this plan's name>)") could be longer than a one-off charge's
 * description is (ONE_OFF_DESCRIPTION_MAX): measured with the longest MSISDN. Authoring-only: the
 * charge is still billed (its description cut, "…"), so a version published before still rates.
 */
function feeNameProblems(plan: PlanDocument): Problem[] {
  const planName = typeof plan.name === 'string' ? plan.name : String(plan.code);
  const problems: Problem[] = [];
  asArray(plan.oneOffFees).forEach((fee, i) => {
    if (!isObject(fee) || typeof fee.name !== 'string') return;
    const wording = fee.trigger === 'PLAN_CHANGE' ? planChangeWording(planName) : null;
    const length = characters(planFeeDescription(fee.name, LONGEST_MSISDN, wording));
    if (length <= ONE_OFF_DESCRIPTION_MAX) return;
    const fits = characters(fee.name) - (length - ONE_OFF_DESCRIPTION_MAX);
    const shape = wording ? `"<name> for <phone number> (to <plan name>)"` : `"<name> for <phone number>"`;
    problems.push({
      pointer: `/oneOffFees/${i}/name`,
      code: 'FEE_NAME_TOO_LONG',
      authoringOnly: true,
      message: `The bill describes this fee's charge as ${shape}, which is up to ${length} characters long with this name; a one-off charge's description has at most ${ONE_OFF_DESCRIPTION_MAX} (longer ones are cut). Shorten the name to at most ${fits} characters${wording ? ' (or the plan\'s name)' : ''}.`,
    });
  });
  return problems;
}

export function semanticProblems(plan: PlanDocument, knownOffers: readonly OfferDocument[], retiredOffers: readonly string[] = []): Problem[] {
  const problems: Problem[] = [];
  if (typeof plan.timezone === 'string' && !isValidTimezone(plan.timezone)) {
    problems.push({ pointer: '/timezone', code: 'INVALID_TIMEZONE', message: `"${plan.timezone}" is not an IANA timezone; use e.g. "Europe/Berlin".` });
  }
  problems.push(...currencyProblems(plan.currency));
  problems.push(...amountPrecisionProblems(plan.currency, planAmounts(plan)));
  problems.push(...amountSizeProblems(plan.currency, [...planAmounts(plan).map(([pointer, amount]) => [pointer, amount, MAX_PLAN_AMOUNT] as const), ...usageAmounts(plan)]));
  problems.push(...ledgerScaleProblems(plan));
  problems.push(...allowanceProblems(asArray(plan.allowances), '/allowances', true));
  problems.push(...feeNameProblems(plan));
  problems.push(...reservedZoneNameProblems(plan), ...emptyTimeWindowProblems(plan), ...holidayDateProblems(plan));
  asArray(plan.addOns).forEach((addOn, i) => {
    if (isObject(addOn)) problems.push(...allowanceProblems(asArray(addOn.allowances), `/addOns/${i}/allowances`, true));
  });

  // Each repeat at its own id (plan or add-on), naming where the id was first used.
  const firstAt = new Map<string, string>();
  placedAllowances(plan).forEach(([allowance, at]) => {
    const first = firstAt.get(allowance.id);
    if (first !== undefined) {
      problems.push({ pointer: `${at}/id`, code: 'DUPLICATE_ID', message: `Allowance id "${allowance.id}" is already used by ${first}; ids must be unique within a plan and its add-ons.` });
    } else firstAt.set(allowance.id, at);
  });
  const allowanceById = allowancesInScope(plan, knownOffers);
  const offerCodes = new Set<string>([
    ...asArray(plan.compatibleOffers).map(String),
    ...asArray(plan.addOns).filter(isObject).map((addOn) => String(addOn.code)),
  ]);

  // A catalog offer no longer sold, unless the plan sells an add-on of that code itself.
  const addOnCodes = new Set(asArray(plan.addOns).filter(isObject).map((addOn) => String(addOn.code)));
  const retired = (code: unknown): code is string => typeof code === 'string' && retiredOffers.includes(code) && !addOnCodes.has(code);
  asArray(plan.compatibleOffers).forEach((code, i) => {
    if (retired(code)) problems.push(retiredOfferProblem(code, `/compatibleOffers/${i}`, 'Remove it from "compatibleOffers"'));
  });

  if (isObject(plan.eligibility)) problems.push(...conditionProblems(plan.eligibility.conditions, '/eligibility/conditions', 'eligibility', plan));

  const names = new Map<string, number>();
  asArray(plan.rules).forEach((rawRule, i) => {
    if (!isObject(rawRule)) return;
    const at = `/rules/${i}`;
    if (typeof rawRule.name === 'string') {
      if (names.has(rawRule.name)) {
        problems.push({ pointer: `${at}/name`, code: 'DUPLICATE_RULE_NAME', message: `Rule name "${rawRule.name}" is already used by /rules/${names.get(rawRule.name)}; names identify rules in rating traces and must be unique.` });
      } else names.set(rawRule.name, i);
    }
    const ruleConditionProblems = rawRule.conditions !== undefined ? conditionProblems(rawRule.conditions, `${at}/conditions`, 'rating', plan) : [];
    problems.push(...ruleConditionProblems);
    const event = isObject(rawRule.event) ? rawRule.event : undefined;
    const params = event && isObject(event.params) ? event.params : undefined;
    if (!event || !params) return;
    if (event.type === 'rate') {
      const allowanceId = params.allowanceId;
      if (typeof allowanceId === 'string') {
        const allowance = allowanceById.get(allowanceId);
        if (!allowance) {
          // Authoring-only: offers are not versioned, so an offer changed after a plan version was published
          // (its allowance removed or renamed) leaves that immutable version's reference dangling. Rating it is
          // safe (no bucket of that id: the rule's price, as past any bucket; a pass bought before keeps its
          // bucket), while refusing it made every event of the lines pinned to the version PLAN_INVALID.
          problems.push({ pointer: `${at}/event/params/allowanceId`, code: 'UNKNOWN_ALLOWANCE', authoringOnly: true, message: `No allowance "${allowanceId}" in this plan, its add-ons or the catalog's offers.${didYouMean(allowanceId, [...allowanceById.keys()])}` });
        } else if (allowance.unit !== params.unit) {
          problems.push({ pointer: `${at}/event/params/unit`, code: 'UNIT_MISMATCH', message: `The rate counts "${String(params.unit)}" but allowance "${allowanceId}" counts "${allowance.unit}"; they must match.` });
        }
      }
      // The usage it can rate counted in its unit; only on conditions that evaluate as written (an empty list is
      // authoring-only and evaluates: true).
      if (isObject(rawRule.conditions) && ruleConditionProblems.every((problem) => problem.authoringOnly) && typeof params.unit === 'string' && UNITS.includes(params.unit)) {
        problems.push(...rateUnitProblems(plan, rawRule as { name?: unknown; conditions: Condition }, params.unit, at));
      }
      const table = isObject(params.priceTable) ? params.priceTable : undefined;
      if (table) problems.push(...tierProblems(table, `${at}/event/params/priceTable`));
    }
    if ((event.type === 'discount' || event.type === 'surcharge') && typeof params.scope === 'string' && INVOICE_LEVEL_SCOPES.includes(params.scope)) {
      problems.push(...invoiceLevelAdjustmentProblems(rawRule, at, event.type));
      // Invoicing bills postpaid accounts only; a prepaid balance is charged per event and by
      // wallets, which read no plan rules: an invoice-level rule there would never apply.
      if (plan.paymentMode === 'PREPAID') {
        problems.push({ pointer: `${at}/event/params/scope`, code: 'SCOPE_NOT_BILLED', authoringOnly: true, message: `A PREPAID plan has no invoice: a ${event.type} with scope ${params.scope} would never be applied. Use scope EVENT to ${event.type} the events themselves, or put the rule on a POSTPAID plan.` });
      }
    }
    if (event.type === 'offer' && typeof params.offerCode === 'string' && !offerCodes.has(params.offerCode) && !knownOffers.some((offer) => offer.code === params.offerCode)) {
      problems.push({ pointer: `${at}/event/params/offerCode`, code: 'UNKNOWN_OFFER', message: `Offer "${params.offerCode}" is neither an add-on of this plan nor listed in "compatibleOffers".` });
    } else if (event.type === 'offer' && retired(params.offerCode)) {
      problems.push(retiredOfferProblem(params.offerCode, `${at}/event/params/offerCode`, 'Offer another one, or remove the rule'));
    }
  });
  return problems;
}

/**
 * A reference to an offer the catalog retired: subscribers no longer sells it (addAddOn: CONFLICT
 * OFFER_RETIRED) and withdraws upsells of it, so a new version would upsell, or list as compatible,
 * what cannot be bought. Authoring-only: versions published while it was sold keep rating.
 */
function retiredOfferProblem(code: string, pointer: string, fix: string): Problem {
  return { pointer, code: 'OFFER_RETIRED', authoringOnly: true, message: `Offer "${code}" is retired: it is no longer sold, so a new version cannot offer it. ${fix}.` };
}

function tierProblems(table: Json, pointer: string): Problem[] {
  const problems: Problem[] = [];
  const tiers = asArray(table.tiers).filter(isObject);
  let previous: Decimal | undefined;
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.upTo === null) {
      if (!last) problems.push({ pointer: `${pointer}/tiers/${i}/upTo`, code: 'INVALID_TIERS', message: 'Only the last tier may be open (upTo: null).' });
      return;
    }
    if (!isDecimalString(tier.upTo)) return;
    const upTo = new Decimal(tier.upTo);
    if (previous && upTo.lte(previous)) {
      problems.push({ pointer: `${pointer}/tiers/${i}/upTo`, code: 'INVALID_TIERS', message: `Tier bounds must increase: ${tier.upTo} is not above the previous tier's ${previous.toString()}.` });
    }
    previous = upTo;
    if (last) problems.push({ pointer: `${pointer}/tiers/${i}/upTo`, code: 'INVALID_TIERS', message: 'The last tier must be open (upTo: null) so every quantity has a price.' });
  });
  if (table.model === 'TIERED_FLAT') {
    tiers.forEach((tier, i) => {
      if (tier.flatFee === undefined) problems.push({ pointer: `${pointer}/tiers/${i}/flatFee`, code: 'INVALID_TIERS', message: 'A TIERED_FLAT table charges each tier\'s flatFee; give every tier one.' });
    });
  } else {
    // compileTariff reads a missing unitPrice or flatFee as "0": a GRADUATED or VOLUME tier with
    // neither would rate its units at zero without a word. A free tier says so ("0"). Authoring-only,
    // as every rule added after versions were published under the old ones: a version published
    // before it stays immutable and its pinned lines keep rating as it was published (refusing it at
    // rating would reject every event of those lines and fail their online sessions, not only the
    // tier's units); its validation shows the warning, and a corrected version replaces it.
    const entering = table.model === 'VOLUME' ? 'for reaching the tier' : 'for entering the tier';
    tiers.forEach((tier, i) => {
      if (tier.unitPrice === undefined && tier.flatFee === undefined) {
        problems.push({
          pointer: `${pointer}/tiers/${i}/unitPrice`,
          code: 'INVALID_TIERS',
          authoringOnly: true,
          message: `This tier has no price, so its units would be rated at zero. Give it a "unitPrice" (per unit) and/or a "flatFee" (${entering}); write "unitPrice": "0" for a free tier.`,
        });
      }
    });
  }
  return problems;
}
