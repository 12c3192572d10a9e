/**
 * catalog → usage: an add-on offer was imported or retired (billing.catalog.offer.published /
 * .retired). Plans are compiled against the catalog's offers (a rate rule may consume an offer's
 * allowance, an offer rule names one): usage asks the catalog for them again and, where they
 * changed, compiles its cached plan versions again (see PlanCache.refreshOffers). A batch whose
 * refresh fails (catalog unreachable) is retried, not acked.
 */
import { EVENTS } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import type { PlanCache } from '../application/plan-cache';
import { consumeBatches } from './jetstream';

/** Both offer events (billing.catalog.offer.published, .retired) and any later one of the offer. */
export const OFFER_EVENTS_FILTER = EVENTS.offerPublished.subject.replace(/[^.]+$/, '>');

export function startOfferEventsConsumer(messaging: Messaging, plans: PlanCache, o: { durable: string; deliverNew: boolean; logger: Logger }) {
  return consumeBatches(messaging, { durable: o.durable, filter: OFFER_EVENTS_FILTER, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    // One refresh per batch: it reads every offer, whatever the events say.
    await plans.refreshOffers();
    for (const m of batch) m.ack();
  });
}
