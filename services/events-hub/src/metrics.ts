import client from 'prom-client';
import type { Knex } from '@ledgerline/platform';
import type { UnplaceableReason } from './domain/visibility';

export type AttemptOutcome = 'DELIVERED' | 'RETRY' | 'DEAD';

export interface HubMetrics {
  /** One POST to a callback: its outcome and how long the receiver took. */
  attempt(outcome: AttemptOutcome, seconds: number): void;
  /** Deliveries stored by the consumer or a replay. */
  scheduled(n: number): void;
  /** A delivery attempt failed before its POST: no configured key opens its hub's secret. */
  secretUnreadable(): void;
  /** Active hubs whose secrets no configured key opens, as the last re-seal pass found them. */
  unreadableSecrets(n: number): void;
  /** An event read from the stream that cannot be stored as it is (e.g. an id over 200 characters, a NUL in its billingAccountId): dead-lettered at once. */
  eventSetAside(reason: SetAsideReason): void;
  /** Held events dropped: their billing account was never placed within EVENTS_HUB_UNPLACED_HOLD_HOURS. */
  unplacedDropped(n: number): void;
  /** An event read on a subject the hub's registry does not know (its producer deployed before the hub). */
  unknownEventType(): void;
  /** Events of a type still unknown dropped for partner hubs after EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS. */
  unknownTypeDropped(n: number): void;
  /** A webhook batch gave up waiting for the billingaccount durable (behind): it failed and NATS redelivers it. */
  batchWaitedForAccounts(): void;
}

/** The id, subject or type cannot be stored (record-events.ts), or an account event's data cannot be (domain/visibility.ts). */
export type SetAsideReason = 'event_id_too_long' | 'subject_too_long' | 'event_type_too_long' | 'nul_character' | UnplaceableReason;

/**
 * Deliveries of one status whose hub is still registered: a deleted hub's rows are never sent nor
 * retried (nobody can act on them), so they would hold the gauges up for ever.
 */
const ofActiveHubs = (knex: Knex, status: 'DEAD' | 'PENDING') =>
  knex('webhook_delivery')
    .where({ status })
    .whereIn('subscription_id', knex('hub').select('id').where({ status: 'ACTIVE' }));

/** The hub's metrics on its registry; the dead-letter and pending gauges are read from the database at each scrape. */
export function createHubMetrics(registry: client.Registry, knex: () => Knex): HubMetrics {
  const attempts = new client.Counter({
    name: 'ledgerline_events_hub_deliveries_total',
    help: 'Webhook delivery attempts by outcome: DELIVERED (2xx), RETRY (failed, scheduled again), DEAD (failed for the last time: dead letter)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'ledgerline_events_hub_delivery_seconds',
    help: 'Time a partner callback took to answer one delivery attempt (timeouts included)',
    labelNames: ['outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const scheduled = new client.Counter({
    name: 'ledgerline_events_hub_deliveries_scheduled_total',
    help: 'Webhook deliveries stored (events matched to hubs, replays included)',
    registers: [registry],
  });
  const unreadableAttempts = new client.Counter({
    name: 'ledgerline_events_hub_secret_unreadable_total',
    help: 'Webhook delivery attempts failed unsent: no configured key (EVENTS_HUB_SECRET_KEY, EVENTS_HUB_PREVIOUS_SECRET_KEYS) opens the hub secret',
    registers: [registry],
  });
  const unreadableHubs = new client.Gauge({
    name: 'ledgerline_events_hub_unreadable_secrets',
    help: 'Active hubs whose stored secret no configured key opens (last start-up check or re-seal pass of this replica); their deliveries fail',
    registers: [registry],
  });
  const setAside = new client.Counter({
    name: 'ledgerline_events_hub_events_set_aside_total',
    help: "Events read from the stream that could not be stored as they are (id or subject over 200 characters, type over 120, a NUL character; an account event's billingAccountId, partnerId, partnerVersion or time PostgreSQL cannot hold): dead-lettered at once for each matching hub that may see it, with the reason in last_error",
    labelNames: ['reason'],
    registers: [registry],
  });
  const unplaced = new client.Counter({
    name: 'ledgerline_events_hub_unplaced_events_dropped_total',
    help: 'Events about a billing account the hub never placed (no billingaccount.created read within EVENTS_HUB_UNPLACED_HOLD_HOURS): not delivered to partner hubs',
    registers: [registry],
  });
  const unknownType = new client.Counter({
    name: 'ledgerline_events_hub_unknown_event_type_total',
    help: "Events read on a subject the hub's event registry does not know (a producer deployed before the hub): delivered to the operator's and ALL hubs, held for OWN_CUSTOMERS partners until the hub is upgraded",
    registers: [registry],
  });
  const unknownTypeDropped = new client.Counter({
    name: 'ledgerline_events_hub_unknown_type_events_dropped_total',
    help: 'Events of a type the hub still does not know after EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS: not delivered to OWN_CUSTOMERS partner hubs',
    registers: [registry],
  });
  const waitedForAccounts = new client.Counter({
    name: 'ledgerline_events_hub_batches_waiting_for_accounts_total',
    help: "Webhook consumer batches holding account events that gave up waiting (2 s) for the hub's billingaccount durable to read the stream up to them: failed and redelivered; no hub gets account events while it grows",
    registers: [registry],
  });
  new client.Gauge({
    name: 'ledgerline_events_hub_unknown_type_events_held',
    help: 'Events of a type the hub does not know yet, held for OWN_CUSTOMERS partner hubs until an upgraded hub knows the type',
    registers: [registry],
    async collect() {
      const [{ n }] = (await knex()('unknown_type_event').count({ n: '*' })) as { n: string | number }[];
      this.set(Number(n));
    },
  });
  new client.Gauge({
    name: 'ledgerline_events_hub_held_events',
    help: 'Events about billing accounts the hub has not placed yet, waiting for the partner hubs they may belong to',
    registers: [registry],
    async collect() {
      const [{ n }] = (await knex()('held_event').count({ n: '*' })) as { n: string | number }[];
      this.set(Number(n));
    },
  });
  new client.Gauge({
    name: 'ledgerline_events_hub_dead_letters',
    help: 'Webhook deliveries that are DEAD (gave up after EVENTS_HUB_MAX_ATTEMPTS): retry them through the hub API',
    registers: [registry],
    async collect() {
      const [{ n }] = (await ofActiveHubs(knex(), 'DEAD').count({ n: '*' })) as { n: string | number }[];
      this.set(Number(n));
    },
  });
  new client.Gauge({
    name: 'ledgerline_events_hub_pending_deliveries',
    help: 'Webhook deliveries waiting for their first or next attempt',
    registers: [registry],
    async collect() {
      const [{ n }] = (await ofActiveHubs(knex(), 'PENDING').count({ n: '*' })) as { n: string | number }[];
      this.set(Number(n));
    },
  });
  return {
    attempt(outcome, seconds) {
      attempts.inc({ outcome });
      latency.observe({ outcome }, seconds);
    },
    scheduled(n) {
      if (n) scheduled.inc(n);
    },
    secretUnreadable() {
      unreadableAttempts.inc();
    },
    unreadableSecrets(n) {
      unreadableHubs.set(n);
    },
    eventSetAside(reason) {
      setAside.inc({ reason });
    },
    unplacedDropped(n) {
      if (n) unplaced.inc(n);
    },
    unknownEventType() {
      unknownType.inc();
    },
    unknownTypeDropped(n) {
      if (n) unknownTypeDropped.inc(n);
    },
    batchWaitedForAccounts() {
      waitedForAccounts.inc();
    },
  };
}
