import { conflict, DomainError, type Caller, type OfferPublishedData } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { validateOffer, type OfferDocument } from '@ledgerline/rating';
import { recordOfferAudit } from './offer-audit';
import { lockOrCreateOffer } from './plan-locks';

/**
 * Creates or changes an add-on offer from its document (catalog/offers/*.json), audited (CREATED /
 * UPDATED with the patch) and announced (billing.catalog.offer.published) once per change; the same
 * document again changes nothing. Add-ons bought before keep their terms (subscribers stores the
 * price and allowances of each purchase). A RETIRED offer is not changed (CONFLICT OFFER_RETIRED):
 * sell the new terms under a new code.
 */
export async function importOffer(em: Em, c: { document: unknown; actor: Caller; now: Date }) {
  const report = validateOffer(c.document);
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
  const before = created ? {} : (JSON.parse(offer.document) as object);
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
