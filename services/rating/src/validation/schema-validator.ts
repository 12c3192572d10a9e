/**
 * JSON Schema validation of plan and offer documents (catalog/schema), with ajv's errors turned
 * into problems a product manager can act on: one per mistake, pointing at the field.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import offerSchema from '../../../../catalog/schema/offer.schema.json' with { type: 'json' };
import planSchema from '../../../../catalog/schema/plan.schema.json' with { type: 'json' };
import { escapePointerToken, type Problem } from './problem';

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false });
ajv.addSchema(planSchema);
ajv.addSchema(offerSchema);

export const validatePlanSchema: ValidateFunction = ajv.getSchema(planSchema.$id)!;
export const validateOfferSchema: ValidateFunction = ajv.getSchema(offerSchema.$id)!;

const DECIMAL_DEFS = ['price', 'quantity', 'decimal', 'percent', 'positiveUnits'];

/** Name of the $defs entry an error comes from ("price"), if any. */
function defName(error: ErrorObject): string | undefined {
  const match = /#\/\$defs\/([^/]+)\/[^/]+$/.exec(error.schemaPath);
  return match?.[1];
}

const EXAMPLES: Record<string, string> = {
  price: 'a non-negative decimal string such as "0.0500"',
  quantity: 'a non-negative decimal string of units such as "20480"',
  decimal: 'a decimal string such as "0.8"',
  percent: 'a percentage from "0" to "100" as a decimal string, e.g. "25"',
  positiveUnits: 'a positive number of units, e.g. 60 or "0.1"',
  code: 'UPPER_SNAKE_CASE, e.g. "PREMIUM_BARRED"',
  id: 'lower-case letters, digits and dashes, e.g. "data-eu"',
  currency: 'an ISO 4217 code such as "EUR"',
  country: 'an ISO 3166 alpha-2 country code such as "FR"',
  mcc: 'a 3-digit mobile country code such as "208"',
  prefix: 'an E.164 prefix such as "+4915"',
  zoneName: 'UPPER_SNAKE_CASE zone name, e.g. "EU"',
  localTime: 'a local time "HH:MM", e.g. "08:00" (or "24:00")',
};

function isEventParams(pointer: string): boolean {
  return /^\/rules\/\d+\/event\/params(\/|$)/.test(pointer);
}

function toProblem(error: ErrorObject): Problem | undefined {
  const at = error.instancePath;
  const def = defName(error);
  const field = at === '' ? 'the document' : `"${at.split('/').pop()}"`;
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return {
        pointer: `${at}/${escapePointerToken(missing)}`,
        code: isEventParams(at) ? 'INVALID_EVENT_PARAMS' : 'MISSING_FIELD',
        message: `Required field "${missing}" is missing${at ? ` in ${at}` : ''}.`,
      };
    }
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((error.parentSchema as { properties?: object })?.properties ?? {});
      return {
        pointer: `${at}/${escapePointerToken(extra)}`,
        code: isEventParams(at) ? 'INVALID_EVENT_PARAMS' : 'UNKNOWN_FIELD',
        message: `Unknown field "${extra}". Allowed here: ${allowed.join(', ')}.`,
      };
    }
    case 'pattern':
    case 'type': {
      if (def && DECIMAL_DEFS.includes(def)) {
        const negative = typeof error.data === 'string' ? error.data.trim().startsWith('-') : typeof error.data === 'number' && error.data < 0;
        if (negative && def === 'price') {
          return { pointer: at, code: 'NEGATIVE_PRICE', message: `${field} is ${JSON.stringify(error.data)}: a price cannot be negative; use a discount rule to lower a price.` };
        }
        const asNumber = typeof error.data === 'number' ? ' Write it in quotes: amounts are decimal strings so they are never rounded as floating point.' : '';
        return { pointer: at, code: 'INVALID_DECIMAL', message: `${field} is ${JSON.stringify(error.data)}; it must be ${EXAMPLES[def]}.${asNumber}` };
      }
      if (error.keyword === 'pattern' && def && EXAMPLES[def]) {
        return { pointer: at, code: 'INVALID_FORMAT', message: `${field} is ${JSON.stringify(error.data)}; it must be ${EXAMPLES[def]}.` };
      }
      return { pointer: at, code: isEventParams(at) ? 'INVALID_EVENT_PARAMS' : error.keyword === 'type' ? 'INVALID_TYPE' : 'INVALID_FORMAT', message: `${field} ${error.message}.` };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      const eventType = /^\/rules\/\d+\/event\/type$/.test(at);
      return {
        pointer: at,
        code: eventType ? 'UNKNOWN_EVENT_TYPE' : isEventParams(at) ? 'INVALID_EVENT_PARAMS' : 'INVALID_VALUE',
        message: `${field} is ${JSON.stringify(error.data)}; it must be one of ${allowed.join(', ')}.`,
      };
    }
    case 'oneOf': {
      const properties = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
      if ('pricePerUnit' in properties) {
        return { pointer: at, code: 'INVALID_EVENT_PARAMS', message: 'A rate rule needs exactly one of "pricePerUnit" or "priceTable".' };
      }
      if ('percent' in properties && 'scope' in properties) {
        return { pointer: at, code: 'INVALID_EVENT_PARAMS', message: 'A discount or surcharge needs exactly one of "percent" or "amount".' };
      }
      return { pointer: at, code: 'INVALID_VALUE', message: `${field} ${error.message}.` };
    }
    case 'anyOf': {
      if (def === 'positiveUnits') {
        // Past 2^53 - 1 JSON parsing has already rounded the integer: only a string keeps its digits.
        const unsafe = typeof error.data === 'number' && Number.isInteger(error.data) && !Number.isSafeInteger(error.data) ? ' An integer this large must be written as a decimal string, e.g. "1000000".' : '';
        return { pointer: at, code: 'INVALID_EVENT_PARAMS', message: `${field} must be ${EXAMPLES.positiveUnits}.${unsafe}` };
      }
      if (at.endsWith('/validity')) return { pointer: at, code: 'INVALID_VALUE', message: 'validity must be "PERIOD" or {"days": <number of days>}.' };
      if (at.endsWith('/upTo')) return { pointer: at, code: 'INVALID_EVENT_PARAMS', message: 'upTo must be a quantity such as "1024", or null for the last, open tier.' };
      return { pointer: at, code: 'INVALID_VALUE', message: `${field} ${error.message}.` };
    }
    case 'if':
      // The failing "then" branch reports the real mistake.
      return undefined;
    case 'minProperties':
    case 'maxProperties':
      if (at.endsWith('/conditions')) {
        return { pointer: at, code: 'INVALID_CONDITION', message: 'Rule conditions must have exactly one of "all", "any" or "not" at the top.' };
      }
      return { pointer: at, code: 'INVALID_VALUE', message: `${field} ${error.message}.` };
    default:
      return { pointer: at, code: isEventParams(at) ? 'INVALID_EVENT_PARAMS' : 'INVALID_VALUE', message: `${field} ${error.message}.` };
  }
}

/** Errors reported inside a oneOf/anyOf branch are replaced by the oneOf/anyOf's own message. */
function insideAlternative(error: ErrorObject, all: ErrorObject[]): boolean {
  return all.some(
    (other) =>
      other !== error &&
      (other.keyword === 'oneOf' || other.keyword === 'anyOf') &&
      error.schemaPath.startsWith(`${other.schemaPath}/`) &&
      error.instancePath.startsWith(other.instancePath),
  );
}

export function schemaProblems(validate: ValidateFunction, document: unknown): Problem[] {
  if (validate(document)) return [];
  const errors = validate.errors ?? [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (insideAlternative(error, errors)) continue;
    const problem = toProblem(error);
    if (!problem) continue;
    const key = `${problem.pointer}|${problem.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}
