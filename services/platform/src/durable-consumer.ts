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
   * `startFromHostProgress`), so nothing published in between is missed. "unread" is "new" for a
   * host that must also read what was published on subjects it did not read before, while it ran
   * an older version (the events hub: a new event type's producer is deployed first): a durable
   * over subjects none of the host's durables read starts where the host began reading (its oldest
   * durable's creation) instead of at "new" (still "new" at a first install).
   */
  startAt?: 'all' | 'new' | 'unread';
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
  // The host's durables as the previous version left them, before this run creates or reads any (see startFromHostProgress).
  const before = !host.throwaway && specs.some((s) => s.startAt === 'new' || s.startAt === 'unread') ? await hostDurables(jsm, host) : [];
  for (const spec of specs) {
    const durable = `${host.name}_${spec.name}${host.suffix ? `_${host.suffix}` : ''}`;
    try {
      await jsm.consumers.info(BILLING_STREAM.name, durable);
    } catch {
      await jsm.consumers.add(BILLING_STREAM.name, {
        durable_name: durable,
        filter_subject: spec.filter,
        ack_policy: AckPolicy.Explicit,
        ...((spec.startAt === 'new' || spec.startAt === 'unread') && !host.throwaway
          ? startFromHostProgress(before, host, durable, spec.filter, spec.startAt)
          : deliverFrom(host.throwaway)),
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
 * Where a new durable of `host` that starts at "new" or "unread" starts. The one place that decides it.
 *
 * - After the lowest acknowledgement floor of the host's durables whose filters overlap `filter` (a
 *   deploy that renamed or split the host's consumers, e.g. the events hub's filters when a work
 *   subject joins a service: the old durables stopped at their last acknowledgement, and what was
 *   published until this one exists would otherwise be missed; what they had acknowledged may come
 *   again, which the handlers take as they take a redelivery).
 * - "unread", and no durable of the host has a filter covering all of `filter` (a new entity beside
 *   the host's entity filters, a new area: its producer deployed before the host's upgrade): the host
 *   never read those subjects, so none of their events reached it, however far its other durables
 *   got (their progress says nothing about subjects they do not read: a busy one acknowledged a
 *   second ago). It starts where the host began reading, the creation of its oldest durable
 *   (DeliverPolicy by_start_time): every event on them since is read once, nothing before the host
 *   existed. Where the filter overlaps subjects the host read but is not covered by one of its
 *   durables (a filter widened over old and new subjects) this would send the old subjects' events
 *   since then again; it starts after the overlapping durables instead, and the new subjects' events
 *   from before the upgrade need a replay.
 * - Else (a first install, a subject space the host never read and "new") at "new".
 *
 * `before` is the host's durables as found before this run created or read any (`hostDurables`): the
 * previous version's. Durables left by such a deploy are not deleted: a rolling deploy's old
 * replicas still read them. The handlers must be idempotent (they are: see `handle`).
 */
function startFromHostProgress(
  before: HostDurable[],
  host: ConsumerHost,
  durable: string,
  filter: string,
  startAt: 'new' | 'unread',
): { deliver_policy: DeliverPolicy; opt_start_seq?: number; opt_start_time?: string } {
  let overlapping: number | undefined;
  let covered = false;
  let first: Date | undefined;
  for (const c of before) {
    if (c.name === durable) continue;
    if (!first || c.created < first) first = c.created;
    if (!c.filters.some((f) => filtersOverlap(f, filter))) continue;
    overlapping = Math.min(overlapping ?? c.next, c.next);
    if (c.filters.some((f) => filterCovers(f, filter))) covered = true;
  }
  if (startAt === 'unread' && overlapping === undefined && first) {
    host.logger.info({ durable, filter, fromTime: first.toISOString() }, 'new durable over subjects its host never read starts where the host began reading');
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: first.toISOString() };
  }
  if (startAt === 'unread' && overlapping !== undefined && !covered)
    host.logger.warn({ durable, filter, fromSeq: overlapping }, 'new durable widens its host\'s filters over subjects it never read: their events from before this start are not read (replay them)');
  if (overlapping === undefined) return { deliver_policy: DeliverPolicy.New };
  host.logger.info({ durable, filter, fromSeq: overlapping }, 'new durable starts after what its predecessors acknowledged');
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: overlapping };
}

interface HostDurable {
  name: string;
  filters: string[];
  created: Date;
  /** The first stream sequence it may not have handled yet. */
  next: number;
}

/**
 * The host's explicitly acknowledging durables `<host>_…[_<suffix>]` (not a replay's throw-away reader, not other
 * hosts), each with the first stream sequence it may not have handled yet: after its acknowledgement floor, or, if
 * it never acknowledged one (NATS 2.9 reports 0 then, which would send a successor back to the stream's start), after
 * the last one delivered when nothing awaits acknowledgement, else from its configured start (safe: the handlers are
 * idempotent).
 */
async function hostDurables(jsm: Messaging['jsm'], host: ConsumerHost): Promise<HostDurable[]> {
  const out: HostDurable[] = [];
  for await (const c of jsm.consumers.list(BILLING_STREAM.name)) {
    const name = c.config.durable_name;
    if (!name || c.config.ack_policy !== AckPolicy.Explicit || !name.startsWith(`${host.name}_`)) continue;
    if (host.suffix && !name.endsWith(`_${host.suffix}`)) continue;
    const filters = [c.config.filter_subject, ...(c.config.filter_subjects ?? [])].filter((f): f is string => typeof f === 'string' && f !== '');
    const handled =
      c.ack_floor.consumer_seq > 0 ? c.ack_floor.stream_seq : c.num_ack_pending === 0 ? c.delivered.stream_seq : Math.max(0, (c.config.opt_start_seq ?? 1) - 1);
    out.push({ name, filters, created: new Date(c.created), next: handled + 1 });
  }
  return out;
}

/** Whether every subject `inner` matches also matches `outer` (NATS subject filters: `*` one token, `>` one or more at the end). */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; ; k++) {
    if (o[k] === '>') return k < i.length;
    if (k === o.length || k === i.length) return o.length === i.length;
    if (i[k] === '>') return false;
    if (o[k] !== '*' && (i[k] === '*' || o[k] !== i[k])) return false;
  }
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
