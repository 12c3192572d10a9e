// Upsell offer: started (through the worker's event bridge) by usage's `usageOfferTriggered`
// event when a plan's `offer` rule fires, e.g. 80 % of the data allowance used.
//   presentUpsellOffer: subscribers stores the offer and tells the customer (or WITHDRAWN: done)
//   → sleep until `remindBeforeHours` before expiry → remindUpsellOffer (only if still open)
//   → sleep until expiry → closeUpsellOffer (EXPIRED unless the customer answered).
// The customer answers in subscribers (`respondToUpsellOffer`), which orders the add-on; the
// workflow only owns the timers. Its id is `upsell-<lineId>-<periodStart>-<offerCode>` (the period's
// name instead of its start for triggers without one), so a trigger runs it once. Presenting gets
// the period's bounds: an offer whose period ended before it could be presented (an outage) is WITHDRAWN,
// and one presented expires at its deadline or its period's end, whichever comes first: the timers
// follow the `expiresAt` subscribers answers, never `validForHours` alone.
// An ACCEPTED offer is not settled before it expires: its add-on order may still fail (the offer is
// then FAILED, and may be accepted again until it expires), so the workflow waits for the expiry and
// returns the offer's state then (ACCEPTED = a conversion, FAILED = none). Only DECLINED ends it at
// the reminder (patch `upsell-offer-settles-at-expiry`; before, ACCEPTED did too).
import { ApplicationFailure, defineQuery, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { UpsellActivities, UpsellOfferState } from '../activities/upsell';
import { upsellOfferInputProblems } from '../domain/start-inputs';
import { ErrorCode } from '../errors';

export interface UpsellOfferInput {
  lineId: string;
  offerCode: string;
  /** Usage's allowance period whose usage triggered the offer: its first day (YYYY-MM-DD), or its start instant when cut short that day. */
  period: string;
  /**
   * That period's start and end (ISO instants, from the trigger). Subscribers keys the offer by the
   * start and withdraws it if the end has passed by presentation. Absent in runs started before.
   */
  periodStart?: string;
  periodEnd?: string;
  rule: string;
  validForHours?: number;
  remindBeforeHours?: number;
}

export const upsellOfferStateQuery = defineQuery<UpsellOfferState | 'STARTING'>('upsellOfferState');

// A trigger is used once (usage emits it once per line, period and add-on; the bridge does not start
// a failed run again), so the steps ride out a subscribers outage of hours: 20 attempts a minute apart
// at most gave up after ~15 minutes and the offer was never made (or never closed).
const { presentUpsellOffer, remindUpsellOffer, closeUpsellOffer } = proxyActivities<UpsellActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * The input is checked before the offer is presented: one started by hand (or by a bridge from before its type
 * checks) with a field of the wrong type was passed on to subscribers (a number as the line id, hours as a string:
 * its timers NaN, the offer reminded and closed at once) or retried there for hours. Now it fails at once,
 * INVALID_UPSELL_OFFER_INPUT, naming the fields. Runs from before replay without the check.
 */
export const UPSELL_OFFER_INPUT_CHECKED = 'upsell-offer-input-checked';

export async function upsellOfferWorkflow(input: UpsellOfferInput): Promise<{ offerId: string; state: UpsellOfferState }> {
  let state: UpsellOfferState | 'STARTING' = 'STARTING';
  setHandler(upsellOfferStateQuery, () => state);
  const problems = upsellOfferInputProblems(input);
  if (problems.length > 0 && patched(UPSELL_OFFER_INPUT_CHECKED)) {
    throw ApplicationFailure.nonRetryable(`invalid upsell offer: ${problems.join('; ')}`, ErrorCode.INVALID_UPSELL_OFFER_INPUT, { problems });
  }
  const validForHours = input.validForHours ?? 72;
  const bounds = { ...(input.periodStart ? { periodStart: input.periodStart } : {}), ...(input.periodEnd ? { periodEnd: input.periodEnd } : {}) };
  const offer = await presentUpsellOffer({ lineId: input.lineId, offerCode: input.offerCode, period: input.period, ...bounds, rule: input.rule, validForHours });
  state = offer.state;
  if (offer.state !== 'PRESENTED') return { offerId: offer.offerId, state: offer.state };

  const expiresAt = Date.parse(offer.expiresAt);
  const remindAt = expiresAt - (input.remindBeforeHours ?? 24) * 3_600_000;
  if (remindAt > Date.now()) {
    await sleep(remindAt - Date.now());
    state = (await remindUpsellOffer(offer.offerId)).state;
    const settled = patched('upsell-offer-settles-at-expiry') ? state !== 'PRESENTED' && state !== 'ACCEPTED' && state !== 'FAILED' : state !== 'PRESENTED';
    if (settled) return { offerId: offer.offerId, state };
  }
  if (expiresAt > Date.now()) await sleep(expiresAt - Date.now());
  state = (await closeUpsellOffer(offer.offerId)).state;
  // The service's clock may be a little behind this timer: it leaves a not-yet-due offer open.
  for (let attempt = 0; state === 'PRESENTED' && attempt < 10; attempt++) {
    await sleep('1 minute');
    state = (await closeUpsellOffer(offer.offerId)).state;
  }
  return { offerId: offer.offerId, state };
}
