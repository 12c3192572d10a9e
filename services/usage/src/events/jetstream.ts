/** A durable pull consumer on the BILLING stream, created if missing (its position survives restarts). */
import { AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { BILLING_STREAM } from '@ledgerline/contracts';
import { deliverFrom, messageBatches, type Messaging } from '@ledgerline/platform';

export interface DurableOptions {
  durable: string;
  filter: string;
  deliverNew?: boolean;
  maxAckPending?: number;
  ackWaitMs?: number;
}

export async function ensureDurable(messaging: Messaging, o: DurableOptions) {
  try {
    await messaging.jsm.consumers.info(BILLING_STREAM.name, o.durable);
  } catch {
    await messaging.jsm.consumers.add(BILLING_STREAM.name, {
      durable_name: o.durable,
      filter_subject: o.filter,
      ack_policy: AckPolicy.Explicit,
      ...deliverFrom(Boolean(o.deliverNew)),
      max_ack_pending: o.maxAckPending ?? 20_000,
      ack_wait: (o.ackWaitMs ?? 30_000) * 1_000_000,
      max_deliver: -1,
      // Throw-away durables (tests) disappear 10 minutes after their service stops.
      ...(o.deliverNew ? { inactive_threshold: 600_000_000_000 } : {}),
    });
  }
  return messaging.js.consumers.get(BILLING_STREAM.name, o.durable);
}

/**
 * Reads messages into micro-batches (`messageBatches`: whatever has arrived, up to `max`); the
 * handler runs batches one at a time (or `concurrency` at a time), so order is kept.
 */
export async function consumeBatches(
  messaging: Messaging,
  o: DurableOptions & {
    max: number;
    concurrency?: number;
    /**
     * Resolves when the handler can start on another batch without it queueing behind the ones in
     * flight (usage: when their rating is done). Taken only then, a batch holds everything that
     * arrived meanwhile instead of the few messages of the last moment (see UsagePipeline.ratingDone).
     */
    readyForNext?: () => Promise<unknown>;
    logger: { warn: (o: object, m: string) => void };
  },
  handle: (batch: JsMsg[]) => Promise<void>,
): Promise<() => Promise<void>> {
  const batches = messageBatches(await ensureDurable(messaging, o), { max: o.max, buffer: Math.max(o.max * 2, 1000), logger: o.logger, name: o.durable });
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const runBatch = async (batch: JsMsg[]) => {
    // A batch is retried until it is stored; its messages are acked only then.
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(batch);
        return;
      } catch (error) {
        if (stopped) return;
        o.logger.warn({ err: error, attempt, size: batch.length }, `${o.durable}: batch failed; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * attempt)));
      }
    }
  };
  const worker = (async () => {
    for (;;) {
      // Up to `concurrency` batches in flight: the handler keeps their order where it matters.
      while (inflight.size >= (o.concurrency ?? 1)) await Promise.race(inflight);
      if (o.readyForNext && inflight.size > 0) await o.readyForNext();
      const batch = await batches.next();
      if (!batch) break;
      const running = runBatch(batch).finally(() => inflight.delete(running));
      inflight.add(running);
    }
    await Promise.allSettled([...inflight]);
  })();
  return async () => {
    stopped = true;
    await batches.close();
    await worker;
  };
}
