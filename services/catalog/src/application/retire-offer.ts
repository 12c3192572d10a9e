import { badInput, notFound, type Caller, type OfferRetiredData } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { lockOffer } from './plan-locks';
import { recordOfferAudit } from './offer-audit';

/**
 * Stops selling an add-on offer: subscribers refuses to sell it (addAddOn: CONFLICT OFFER_RETIRED)
 * and withdraws upsell offers of it; add-ons bought before run until they lapse. Audited and
 * announced (billing.catalog.offer.retired) once; retiring it again answers the same.
 */
export async function retireOffer(em: Em, c: { code: string; reason: string; actor: Caller; now: Date }) {
  const reason = typeof c.reason === 'string' ? c.reason.trim() : '';
  if (reason.length < 1 || reason.length > 500) throw badInput('input.reason', 'Say why the offer is retired (1 to 500 characters)', 'REASON_REQUIRED');
  const offer = await lockOffer(em, c.code);
  if (!offer) throw notFound('Offer', c.code, 'input.code');
  if (offer.status === 'RETIRED') return { offer };
  offer.status = 'RETIRED';
  offer.retiredAt = c.now;
  offer.retiredReason = reason;
  recordOfferAudit(em, { offerCode: offer.code, action: 'RETIRED', actor: c.actor, at: c.now, before: { status: 'ACTIVE' }, after: { status: 'RETIRED', reason } });
  const data: OfferRetiredData = { code: offer.code, reason, retiredAt: c.now.toISOString() };
  enqueueEvent(em, 'offerRetired', { source: 'ledgerline/catalog', subject: offer.code, key: [offer.code, 'RETIRED'], time: c.now, data });
  await em.flush();
  return { offer };
}
