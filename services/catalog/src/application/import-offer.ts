import { DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { validateOffer, type OfferDocument } from '@ledgerline/rating';
import { Offer } from '../persistence/entities';

export async function importOffer(em: Em, c: { document: unknown; now: Date }) {
  const report = validateOffer(c.document);
  if (!report.valid) {
    throw new DomainError('OFFER_INVALID', `Offer has ${report.problems.length} problem(s): ${report.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, {
      field: 'input.document',
      problems: report.problems,
    });
  }
  const doc = c.document as OfferDocument;
  let offer = await em.findOne(Offer, { code: doc.code });
  if (!offer) offer = em.create(Offer, { code: doc.code, name: doc.name, currency: doc.currency, price: doc.price, document: JSON.stringify(doc), updatedAt: c.now });
  else Object.assign(offer, { name: doc.name, currency: doc.currency, price: doc.price, document: JSON.stringify(doc), updatedAt: c.now });
  await em.flush();
  return { offer };
}
