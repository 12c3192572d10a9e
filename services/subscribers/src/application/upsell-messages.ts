// The customer's messages about an upsell offer (presented, reminder, failed order): their parameters
// and their recording in the notification outbox, once per offer and template (a failure: per order).
import { formatAmount } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { UpsellOffer } from '../persistence/entities';
import { utcMinute } from '../domain/notifications';
import { offerEnd } from '../domain/upsell-offer';
import { recordNotifications } from './notifications';


/**
 * The parameters of an offer's UPSELL_OFFER / UPSELL_REMINDER text: the price in the currency's
 * minor unit ("5.00 EUR", "500 JPY", "1.500 KWD"), exact from the stored decimal string, and when
 * it ends (its deadline, or its allowance period's end when that comes first).
 */
export function upsellMessageParams(offer: Pick<UpsellOffer, 'offerName' | 'price' | 'currency' | 'expiresAt'> & { periodEnd?: Date | null }): Record<string, string> {
  return { offerName: offer.offerName, price: formatAmount(offer.price, offer.currency), expiresAt: utcMinute(offerEnd(offer).at) };
}

/**
 * The customer's message about the offer: once per template (and, for a failure, per order: `occasion`).
 * A failure told once the offer has expired (an order accepted in its last minutes failing later) says
 * the offer has ended (`ended`) rather than inviting an accept no longer possible.
 */
export async function tellUpsell(em: Em, offer: UpsellOffer, template: 'UPSELL_OFFER' | 'UPSELL_REMINDER' | 'UPSELL_FAILED', now: Date, occasion = ''): Promise<void> {
  const params = upsellMessageParams(offer);
  if (template === 'UPSELL_FAILED' && offerEnd(offer).at <= now) params.ended = 'true';
  await recordNotifications(
    em,
    [
      {
        eventType: template,
        eventId: `${offer.id}:${template}${occasion ? `:${occasion}` : ''}`,
        billingAccountId: offer.billingAccountId,
        lineId: offer.lineId,
        template,
        preferredChannel: null,
        params,
      },
    ],
    now,
  );
}
