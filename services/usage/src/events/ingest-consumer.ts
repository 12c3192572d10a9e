/**
 * JetStream ingestion: `billing.usage.ingest.p<N>` (partitioned by subscriber). Each micro-batch
 * goes through the pipeline in one transaction, then each message is acked. A message that
 * is not JSON is stored REJECTED under `nats:<stream sequence>`; nothing crashes the consumer.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Messaging, Logger } from '@ledgerline/platform';
import type { IncomingUsage, UsagePipeline } from '../application/usage-pipeline';
import { consumeBatches } from './jetstream';

export const INGEST_FILTER = 'billing.usage.ingest.>';

export function toIncoming(m: JsMsg): IncomingUsage {
  const text = m.string();
  try {
    return { raw: JSON.parse(text), source: 'nats' };
  } catch {
    return { raw: text.slice(0, 10_000), source: 'nats', eventId: `nats:${m.seq}` };
  }
}

export function startIngestConsumer(messaging: Messaging, pipeline: UsagePipeline, o: { durable: string; deliverNew: boolean; batch: number; concurrency?: number; ackWaitMs?: number; logger: Logger; onBatch?: (n: number) => void }) {
  return consumeBatches(messaging, { durable: o.durable, filter: INGEST_FILTER, deliverNew: o.deliverNew, max: o.batch, concurrency: o.concurrency ?? 3, readyForNext: () => pipeline.ratingDone(), ackWaitMs: o.ackWaitMs, logger: o.logger }, async (batch) => {
    await pipeline.process(batch.map(toIncoming));
    // Every message is acked on its own: with AckAll, acking a new message would also ack older
    // ones a crashed consumer held and that are waiting for redelivery (they would be lost).
    for (const m of batch) m.ack();
    o.onBatch?.(batch.length);
  });
}
