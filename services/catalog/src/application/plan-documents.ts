import { badInput, DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { validatePlan, type OfferDocument, type ValidationReport } from '@ledgerline/rating';
import { Offer } from '../persistence/entities';
import { readOffersForPublish } from './plan-locks';

export interface PlanHeader {
  code: string;
  name: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
}

/**
 * The few fields a draft needs to be filed under a plan at all. Everything else may still be
 * wrong in a draft; `validatePlan` reports it and publishing refuses it.
 */
export function planHeader(document: unknown): PlanHeader {
  const d = document as Partial<PlanHeader> | null;
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw badInput('input.document', 'The plan document must be a JSON object', 'PLAN_DOCUMENT_INVALID');
  if (typeof d.code !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]{1,79}$/.test(d.code)) {
    throw badInput('input.document.code', 'The plan needs a code of letters, digits, "_" and "-", e.g. "POSTPAID_20GB"', 'PLAN_CODE_INVALID');
  }
  if (typeof d.name !== 'string' || !d.name.trim()) throw badInput('input.document.name', 'The plan needs a name', 'PLAN_NAME_MISSING');
  if (d.paymentMode !== 'PREPAID' && d.paymentMode !== 'POSTPAID') throw badInput('input.document.paymentMode', 'paymentMode must be PREPAID or POSTPAID', 'PLAN_PAYMENT_MODE_INVALID');
  if (typeof d.currency !== 'string' || !/^[A-Z]{3}$/.test(d.currency)) throw badInput('input.document.currency', 'currency must be an ISO 4217 code such as "EUR"', 'PLAN_CURRENCY_INVALID');
  return { code: d.code, name: d.name, paymentMode: d.paymentMode, currency: d.currency };
}

/** The catalog's offers in the order validation reads them (code). */
export async function knownOffers(em: Em): Promise<OfferDocument[]> {
  return (await em.find(Offer, {}, { orderBy: { code: 'asc' } })).map((o) => JSON.parse(o.document) as OfferDocument);
}

/**
 * Validates against the schema, the facts and operators, and the offers published here (retired ones:
 * OFFER_RETIRED where the document offers or lists them). `publishing`:
 * the offers are read once the allowance ids the document consumes are locked (readOffersForPublish),
 * so an offer import changing them is waited for.
 */
export async function validateDocument(em: Em, document: unknown, options: { publishing?: boolean } = {}): Promise<ValidationReport> {
  const rows = options.publishing ? await readOffersForPublish(em, document) : await em.find(Offer, {}, { orderBy: { code: 'asc' } });
  // Every offer's allowances stay in scope (passes bought before a retirement keep their buckets);
  // a retired offer may not be offered or listed as compatible by a new version (OFFER_RETIRED).
  const retiredOffers = rows.filter((o) => o.status === 'RETIRED').map((o) => o.code);
  return validatePlan(document, { knownOffers: rows.map((o) => JSON.parse(o.document) as OfferDocument), retiredOffers });
}

/** An invalid plan can never be published: the error carries every problem with its pointer. */
export function invalidPlanError(code: string, report: ValidationReport): DomainError {
  return new DomainError(
    'PLAN_INVALID',
    `Plan ${code} has ${report.problems.length} problem(s): ${report.problems.map((p) => `${p.pointer || '(document)'}: ${p.message}`).join('; ')}`,
    { field: 'input.document', problems: report.problems },
    'BAD_USER_INPUT',
  );
}
