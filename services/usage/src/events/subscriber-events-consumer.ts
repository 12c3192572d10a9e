/** Builds the line → subscription → plan version read model from subscribers' events. */
import { EVENTS, parseCloudEvent, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import type { LineDirectory } from '../application/line-directory';
import { consumeBatches } from './jetstream';

/** Applies one subscribers event to the read model; returns the line (and number) it was about, if any. */
export async function applySubscriberEvent(directory: LineDirectory, subject: string, payload: string, logger: Logger): Promise<{ lineId: string; msisdn?: string | null } | undefined> {
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
    return { lineId: d.lineId, msisdn: d.msisdn };
  } else {
    const d = event.data as SubscriptionData;
    if (!d?.subscriptionId || !d.lineId || !d.planVersionId || !d.startsAt) return void logger.warn({ id: event.id }, 'subscription event without ids ignored');
    await directory.applySubscription(d, at);
    return { lineId: d.lineId, msisdn: d.msisdn };
  }
}

/**
 * `onLines`: called once per batch, after its events are applied and before they are acked, with
 * the lines and numbers they were about (usage waiting for them is rated then; see reprocessWaiting).
 */
export function startSubscriberEventsConsumer(messaging: Messaging, directory: LineDirectory, o: { durable: string; deliverNew: boolean; logger: Logger; onLines?: (lines: { lineIds: string[]; msisdns: string[] }) => Promise<unknown> }) {
  return consumeBatches(messaging, { durable: o.durable, filter: 'billing.subscribers.>', max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    const lineIds = new Set<string>();
    const msisdns = new Set<string>();
    for (const m of batch) {
      const about = await applySubscriberEvent(directory, m.subject, m.string(), o.logger);
      if (about) lineIds.add(about.lineId);
      if (about?.msisdn) msisdns.add(about.msisdn);
    }
    if (o.onLines && lineIds.size > 0) await o.onLines({ lineIds: [...lineIds], msisdns: [...msisdns] });
    for (const m of batch) m.ack();
  });
}
