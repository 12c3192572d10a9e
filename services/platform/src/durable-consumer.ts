import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { BILLING_STREAM } from '@ledgerline/contracts';
import { deliverFrom, type Messaging } from './nats';
import type { Logger } from './logger';
import type { ServiceRuntime } from './service';
import { retryTransientFailures } from './transient-retry';

export interface DurableConsumerSpec {
  /** Short name, unique within its host: the durable is `<host>_<name>[_<suffix>]`. */
  name: string;
  /** One subject filter per consumer, so NATS servers before 2.10 (no filter_subjects) work too. */
  filter: string;
  /**
   * Applies one fetched batch. It must be idempotent: a batch is acknowledged only after this
   * resolves, so a crash or an error redelivers all of it, and a deadlock or serialization failure
   * runs it again at once (retryTransientFailures) before that.
   */
  handle(messages: JsMsg[]): Promise<void>;
  /** Messages per batch at most (default 500). */
  batchSize?: number;
  /** Unacknowledged messages the server lets this consumer have (default 10,000). */
  maxAckPending?: number;
  /**
   * The handler acknowledges (ack, nak with a delay, term) each message itself, e.g. to retry one
   * message later without holding up the rest; by default the loop acknowledges the whole batch.
   */
  settlesItself?: boolean;
  /**
   * Where a new (non-throwaway) durable starts: the whole stream (default: read models are built
   * from history) or only what arrives from now on (bridges that start work, not rebuild state).
   * "new" means new to the host: where a deploy renamed or split its consumers, a new durable
   * starts after what the host's existing durables over the same subjects acknowledged (see
   * `startAfterPredecessors`), so nothing published in between is missed.
   */
  startAt?: 'all' | 'new';
}

/** Batches of a pull consumer's messages, as they arrive (see `messageBatches`). */
export interface MessageBatches {
  /** The next batch (never empty), or null once closed. */
  next(): Promise<JsMsg[] | null>;
  /** Stops reading. Messages read ahead but not handed over are given back at once (nak); any still on the way at the close come back after the ack wait. */
  close(): Promise<void>;
}

/**
 * Micro-batches from a pull consumer: whatever has arrived, up to `max` messages, handed over as
 * soon as it is asked for. The server pushes messages ahead (`consume`, up to `buffer`), so a quiet
 * consumer hands a lone message over at once and a busy one full batches; a `fetch` instead waits
 * until its batch is full or its wait (at least a second) runs out, which is latency at low rates
 * and idle time at high ones. If the message stream ends by itself (the consumer was deleted,
 * the connection gave up), it is opened again after a pause.
 */
export function messageBatches(consumer: Consumer, o: { max: number; buffer?: number; logger: { warn: (obj: object, msg: string) => void }; name: string }): MessageBatches {
  const buffer: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  let messages: ConsumerMessages | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const reader = (async () => {
    while (!closed) {
      try {
        messages = await consumer.consume({ max_messages: o.buffer ?? Math.max(2 * o.max, 64) });
        for await (const m of messages) {
          buffer.push(m);
          signal();
        }
      } catch (err) {
        if (!closed) o.logger.warn({ err, consumer: o.name }, 'consumer stream failed; reopening');
      }
      if (!closed) await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    async next() {
      while (buffer.length === 0 && !closed) await new Promise<void>((resolve) => (wake = resolve));
      return closed ? null : buffer.splice(0, o.max);
    },
    async close() {
      if (closed) return;
      closed = true;
      signal();
      await messages?.close().catch(() => undefined);
      await reader;
      for (const m of buffer.splice(0)) m.nak();
    },
  };
}

export interface ConsumerHost {
  messaging: Messaging;
  logger: Logger;
  /** Prefix of the durable names. */
  name: string;
  /** Suffix of the durable names (a test's schema), so runs sharing NATS do not share consumers. */
  suffix?: string;
  /** A test or end-to-end run: consumers start at this process's start and are deleted on stop. */
  throwaway: boolean;
}

/**
 * Runs durable pull consumers on the BILLING stream, one loop each: take what has arrived (see
 * `messageBatches`), apply it, acknowledge it. A failing batch is logged and redelivered after a
 * pause; the loop never dies.
 */
export async function runDurableConsumers(host: ConsumerHost, specs: DurableConsumerSpec[]): Promise<() => Promise<void>> {
  const { jsm, js } = host.messaging;
  let running = true;
  const created: string[] = [];
  const loops: Promise<void>[] = [];
  const readers: MessageBatches[] = [];
  for (const spec of specs) {
    const durable = `${host.name}_${spec.name}${host.suffix ? `_${host.suffix}` : ''}`;
    try {
      await jsm.consumers.info(BILLING_STREAM.name, durable);
    } catch {
      await jsm.consumers.add(BILLING_STREAM.name, {
        durable_name: durable,
        filter_subject: spec.filter,
        ack_policy: AckPolicy.Explicit,
        ...(spec.startAt === 'new' && !host.throwaway ? await startAfterPredecessors(jsm, host, durable, spec.filter) : deliverFrom(host.throwaway)),
        max_ack_pending: spec.maxAckPending ?? 10_000,
        ack_wait: 60_000_000_000,
      });
    }
    created.push(durable);
    const batches = messageBatches(await js.consumers.get(BILLING_STREAM.name, durable), { max: spec.batchSize ?? 500, logger: host.logger, name: durable });
    readers.push(batches);
    loops.push(
      (async () => {
        for (let batch = await batches.next(); batch; batch = await batches.next()) {
          try {
            // A deadlock victim runs again here before the whole batch goes back to NATS (the handler is
            // idempotent, as for a redelivery). Not one that settles its messages itself: a failed run
            // may have acked some of them already.
            if (spec.settlesItself) await spec.handle(batch);
            else await retryTransientFailures({ service: host.name, operation: `consumer:${spec.name}`, logger: host.logger }, () => spec.handle(batch));
            if (!spec.settlesItself) for (const m of batch) m.ack();
          } catch (err) {
            if (!running) break;
            host.logger.warn({ err, consumer: durable }, 'consumer batch failed; it will be redelivered');
            for (const m of batch) m.nak(500);
          }
        }
      })(),
    );
  }
  return async () => {
    running = false;
    await Promise.all(readers.map((r) => r.close()));
    await Promise.all(loops);
    if (host.throwaway) for (const name of created) await jsm.consumers.delete(BILLING_STREAM.name, name).catch(() => undefined);
  };
}

/**
 * Where a new durable of `host` that starts at "new" starts: after the lowest acknowledgement floor
 * of the host's other durables whose filters overlap `filter` (a deploy that renamed or split the
 * host's consumers, e.g. the events hub's filters when a work subject joins a service: the old
 * durables stopped at their last acknowledgement, and what was published until this one exists
 * would otherwise be missed; what they had acknowledged may come again, which the handlers take as
 * they take a redelivery), else at "new" (a first install, a subject space the host never read).
 * Durables left by such a deploy are not deleted: a rolling deploy's old replicas still read them.
 */
async function startAfterPredecessors(jsm: Messaging['jsm'], host: ConsumerHost, durable: string, filter: string): Promise<{ deliver_policy: DeliverPolicy; opt_start_seq?: number }> {
  let floor: number | undefined;
  for await (const c of jsm.consumers.list(BILLING_STREAM.name)) {
    // Durables that acknowledge only: a throw-away reader (the hub's replays) has no floor worth following.
    const name = c.config.durable_name;
    if (!name || c.config.ack_policy !== AckPolicy.Explicit || name === durable || !name.startsWith(`${host.name}_`)) continue;
    const filters = [c.config.filter_subject, ...(c.config.filter_subjects ?? [])].filter((f): f is string => typeof f === 'string' && f !== '');
    if (!filters.some((f) => filtersOverlap(f, filter))) continue;
    const next = c.ack_floor.stream_seq + 1;
    floor = floor === undefined ? next : Math.min(floor, next);
  }
  if (floor === undefined) return { deliver_policy: DeliverPolicy.New };
  host.logger.info({ durable, filter, fromSeq: floor }, 'new durable starts after what its predecessors acknowledged');
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor };
}

/** Whether some subject matches both NATS subject filters (`*`: one token, `>`: one or more at the end). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    if (x[i] === '>' || y[i] === '>') return i < x.length && i < y.length;
    if (i === x.length || i === y.length) return x.length === y.length;
    if (x[i] !== y[i] && x[i] !== '*' && y[i] !== '*') return false;
  }
}

/**
 * A service's consumers: durables named `<service>_<name>`, plus `_<schema>` when the schema is
 * not the default one. Test and end-to-end runs (schema starting with `t_` or `e2e_`) are throwaway.
 */
export function startDurableConsumers(runtime: ServiceRuntime, specs: DurableConsumerSpec[], options: { throwaway?: boolean } = {}): Promise<() => Promise<void>> {
  const { service, databaseSchema: schema } = runtime.config;
  return runDurableConsumers(
    { messaging: runtime.messaging, logger: runtime.logger, name: service, suffix: schema === service ? undefined : schema, throwaway: options.throwaway ?? /^(t|e2e)_/.test(schema) },
    specs,
  );
}
