/** invoicing → usage: customerBillCreated marks the period's records BILLED (application/mark-billed.ts). */
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import { markPeriodBilled, parseBillIssued } from '../application/mark-billed';
import type { UsagePipeline } from '../application/usage-pipeline';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

export async function applyBillEvent(sql: Sql, pipeline: UsagePipeline, payload: string, logger: Logger): Promise<void> {
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    return void logger.warn({ err: error }, 'ignoring an invoicing message that is not a CloudEvent');
  }
  const bill = parseBillIssued(event.data, event.time);
  if (!bill) return void logger.warn({ id: event.id }, 'customerBillCreated without invoiceId/billingAccountId/period ignored');
  pipeline.forgetBilledPeriods(bill.billingAccountId);
  const billed = await markPeriodBilled(sql, bill);
  pipeline.forgetBilledPeriods(bill.billingAccountId);
  logger.debug({ invoiceId: bill.invoiceId, billed }, 'usage records billed');
}

export function startBillEventsConsumer(messaging: Messaging, sql: Sql, pipeline: UsagePipeline, o: { durable: string; deliverNew: boolean; logger: Logger }) {
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.customerBillCreated.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    for (const m of batch) await applyBillEvent(sql, pipeline, m.string(), o.logger);
    for (const m of batch) m.ack();
  });
}
