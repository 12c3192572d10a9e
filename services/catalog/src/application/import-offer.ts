import { conflict, dec, DomainError, type Caller, type OfferPublishedData } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { validateOffer, type OfferDocument, type PlanDocument, type ValidationReport } from '@ledgerline/rating';
import { Plan, PlanVersion } from '../persistence/entities';
import { allowanceIdsTouched, offerChangeProblems, type OfferChangeProblem, type PublishedVersion } from '../domain/offer-references';
import { knownOffers } from './plan-documents';
import { recordOfferAudit } from './offer-audit';
import { lockAllowances, lockOrCreateOffer } from './plan-locks';

/**
 * Creates or changes an add-on offer from its document (catalog/offers/*.json), audited (CREATED /
 * UPDATED with the patch) and announced (billing.catalog.offer.published) once per change; the same
 * document again changes nothing. Add-ons bought before keep their terms (subscribers stores the
 * price and allowances of each purchase). A RETIRED offer is not changed (CONFLICT OFFER_RETIRED):
 * sell the new terms under a new code.
 *
 * Nor is a document that would break a published plan version: one that drops (or renames) an
 * allowance a published version's `rate` rule consumes, or changes its unit (BAD_USER_INPUT
 * OFFER_ALLOWANCE_IN_USE, a problem per change at its pointer naming the versions; see
 * domain/offer-references.ts). Checked under the offer's lock and an exclusive lock on each allowance
 * id it granted or grants (lockAllowances): another offer's import granting one of them, and a publish
 * consuming one (it locks them shared), is either seen here or sees this document. Drafts are left to
 * their own validation.
 */
export async function importOffer(em: Em, c: { document: unknown; actor: Caller; now: Date }) {
  const report = storableOffer(validateOffer(c.document), c.document);
  if (!report.valid) {
    throw new DomainError('OFFER_INVALID', `Offer has ${report.problems.length} problem(s): ${report.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, {
      field: 'input.document',
      problems: report.problems,
    });
  }
  const doc = c.document as OfferDocument;
  const document = JSON.stringify(doc);
  const { offer, created } = await lockOrCreateOffer(em, { code: doc.code, name: doc.name, currency: doc.currency, price: doc.price, document }, c.now);
  if (!created && offer.document === document) return { offer };
  if (offer.status === 'RETIRED') {
    throw conflict('OFFER_RETIRED', `Offer ${doc.code} was retired at ${offer.retiredAt?.toISOString()}: it is not changed any more; sell the new terms under a new code`, { field: 'input.document', offerCode: doc.code });
  }
  const stored = created ? null : (JSON.parse(offer.document) as OfferDocument);
  // Another import granting one of these ids, or a publish consuming one, is waited for, and what it wrote is read below.
  await lockAllowances(em, allowanceIdsTouched(stored, doc), 'exclusive');
  const problems = offerChangeProblems({ offers: await knownOffers(em), stored, imported: doc, versions: await publishedVersions(em) });
  if (problems.length > 0) throw offerInUseError(doc.code, problems);
  const before = stored ?? {};
  const action = created ? 'CREATED' : 'UPDATED';
  if (!created) Object.assign(offer, { name: doc.name, currency: doc.currency, price: doc.price, document, updatedAt: c.now });
  recordOfferAudit(em, { offerCode: doc.code, action, actor: c.actor, at: c.now, before, after: doc });
  const data: OfferPublishedData = {
    code: doc.code, name: doc.name, action, price: { amount: doc.price, currency: doc.currency }, validityDays: doc.validityDays,
    compatiblePlans: doc.compatiblePlans ?? [], publishedAt: c.now.toISOString(),
  };
  // One event per change: the key names the document it published.
  enqueueEvent(em, 'offerPublished', { source: 'ledgerline/catalog', subject: doc.code, key: [doc.code, document], time: c.now, data });
  await em.flush();
  return { offer };
}

/** offer.price is NUMERIC(18,6): a price of 10^12 or more cannot be stored (PostgreSQL refused the row: INTERNAL). */
const PRICE_LIMIT = dec('1000000000000');

/** The report, with a price the offer row cannot hold added as a problem at /price (the schema bounds only its form). */
function storableOffer(report: ValidationReport, document: unknown): ValidationReport {
  const price = (document as { price?: unknown } | null)?.price;
  if (!report.valid || typeof price !== 'string' || dec(price).lt(PRICE_LIMIT)) return report;
  return { valid: false, problems: [...report.problems, { pointer: '/price', code: 'AMOUNT_TOO_LARGE', message: `An offer's price must be below ${PRICE_LIMIT.toFixed()} (got ${price}).` }] };
}

/** Every published version (superseded ones and retired plans' too: lines stay pinned to them), with its plan's code. */
async function publishedVersions(em: Em): Promise<PublishedVersion[]> {
  const versions = await em.find(PlanVersion, { status: 'PUBLISHED' }, { orderBy: { planId: 'asc', version: 'asc' } });
  if (versions.length === 0) return [];
  const plans = await em.find(Plan, { id: { $in: [...new Set(versions.map((v) => v.planId))] } });
  const codeOf = new Map(plans.map((p) => [p.id, p.code]));
  return versions.map((v) => ({ planCode: codeOf.get(v.planId) ?? v.planId, version: v.version!, planVersionId: v.id, document: JSON.parse(v.document) as PlanDocument }));
}

/** The house shape of a refused document (as PLAN_INVALID / OFFER_INVALID): every problem with its pointer in the document. */
function offerInUseError(code: string, problems: OfferChangeProblem[]): DomainError {
  return new DomainError(
    'OFFER_ALLOWANCE_IN_USE',
    `Offer ${code} cannot take this document: ${problems.length} change(s) would break published plan versions: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`,
    { field: 'input.document', problems },
    'BAD_USER_INPUT',
  );
}
