/** Builds the line → subscription → plan version read model from subscribers' events. */
import { EVENTS, parseCloudEvent, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import type { LineDirectory } from '../application/line-directory';
import { consumeBatches } from './jetstream';

export async function applySubscriberEvent(directory: LineDirectory, subject: string, payload: string, logger: Logger): Promise<void> {
  if (subject !== EVENTS.lineStateChanged.subject && subject !== EVENTS.subscriptionCreated.subject && subject !== EVENTS.subscriptionChanged.subject) return;
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    logger.warn({ err: error, subject }, 'ignoring a subscribers message that is not a CloudEvent');
    return;
  }
  const at = new Date(event.time);
  if (subject === EVENTS.lineStateChanged.subject) {
    const d = event.data as LineStateData;
    if (!d?.lineId || !d.billingAccountId || !d.status) return void logger.warn({ id: event.id }, 'line event without lineId/billingAccountId/status ignored');
    await directory.applyLineState(d, at);
  } else {
    const d = event.data as SubscriptionData;
    if (!d?.subscriptionId || !d.lineId || !d.planVersionId || !d.startsAt) return void logger.warn({ id: event.id }, 'subscription event without ids ignored');
    await directory.applySubscription(d, at);
  }
}

export function startSubscriberEventsConsumer(messaging: Messaging, directory: LineDirectory, o: { durable: string; deliverNew: boolean; logger: Logger }) {
  return consumeBatches(messaging, { durable: o.durable, filter: 'billing.subscribers.>', max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    for (const m of batch) {
      await applySubscriberEvent(directory, m.subject, m.string(), o.logger);
      m.ack();
    }
  });
}
