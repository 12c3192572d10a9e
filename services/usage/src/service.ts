import { entityLoader, type ServiceDefinition, type ServiceRuntime } from '@ledgerline/platform';
import { entities, UsageRecord } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';
import { createUsageRuntime } from './usage-runtime';
import type { PlanSource } from './application/plan-cache';
import { startIngestConsumer } from './events/ingest-consumer';
import { startAccountOwnersConsumer, startAccountTermsConsumer, startSubscriberEventsConsumer } from './events/subscriber-events-consumer';
import { startBundleEventsConsumer, startBundleFeeDueConsumer, startRolledOverConsumer } from './events/bundle-events-consumer';
import { reprocessPartnersRecords, reprocessWaiting, type PartnerAccount } from './application/reprocess-rejected';
import { startChargeResultConsumer } from './events/charge-result-consumer';
import { startChargingSessionResponder } from './events/charging-session-responder';
import { startBillEventsConsumer } from './events/bill-events-consumer';
import { startOfferEventsConsumer } from './events/offer-events-consumer';
import { startSweeper } from './events/sweeper';
import { sweepChargesCounted } from './application/sweep-charges';
import { closeStaleSessions } from './application/charging-session';

export interface UsageServiceOptions {
  /** Where plan documents come from; default: the catalog subgraph at CATALOG_URL. */
  planSource?: PlanSource;
  /** Background consumers to run (default from USAGE_CONSUMERS, else all nine). */
  consumers?: ('ingest' | 'subscribers' | 'owners' | 'charges' | 'sessions' | 'bills' | 'sweeper' | 'bundles' | 'offers')[];
  /** Durable consumer name prefix (default USAGE_CONSUMER_PREFIX, else "usage", or "usage-<schema>" off the default schema). */
  consumerPrefix?: string;
  /** New durables start at new messages (tests); default USAGE_DELIVER_NEW=1. */
  deliverNew?: boolean;
}

/**
 * Settings: CATALOG_URL; USAGE_CONSUMERS (default "ingest,subscribers,owners,charges,sessions,bills,sweeper,bundles,offers":
 * which background consumers run, "owners" being subscribers' billingaccount events (who may read an account's usage,
 * its bill cycle; with a second durable, "<prefix>-owners-terms", for accounts read before the cycle was kept),
 * "bundles" being wallets' bundle.renewed and bundle.feedue, "offers" the catalog's offer events (plans compile again
 * against the changed offers); "none" for none); USAGE_CHARGE_SWEEP_MS (default 5000) and
 * USAGE_CHARGE_RESEND_AFTER_MS (default 60000): how often, and after how long without a
 * ChargeResult, the sweeper re-publishes a record's (or a re-rate adjustment's) ChargeRequest;
 * USAGE_EMITTED_EVENT_RETENTION_DAYS (default 400, 0 keeps all: how long the sweeper keeps the ids of notices already
 * sent, which make them once per period); USAGE_CONSUMER_PREFIX (durable names, default
 * "usage"); USAGE_DELIVER_NEW=1 makes new durables start at new messages (tests);
 * USAGE_INGEST_BATCH (default 1000); USAGE_INGEST_CONCURRENCY (batches in flight, default 3); USAGE_INGEST_ACK_WAIT_MS (default 30000: how soon the
 * events a crashed consumer held are redelivered); USAGE_SESSION_IDLE_MS (default 900000: an online charging session
 * with no request for this long is closed as TIMED_OUT, longer than wallets' 300 s reservation validity) and
 * USAGE_SESSION_SWEEP_MS (default 60000: how often that is looked for); USAGE_SPEND_ALERT_CACHE_MS (default 60000: how long
 * an account's spend alerts are rated with as read, before they are read again; 0: every batch).
 */
export function createUsageService(options: UsageServiceOptions = {}): ServiceDefinition {
  return {
    name: 'usage',
    schemaPath: new URL('../schema.graphql', import.meta.url),
    entities,
    migrations,
    resolvers: resolvers as never,
    context: ({ em }) => ({ usageRecords: entityLoader(em, UsageRecord) }),
    background: async (runtime: ServiceRuntime) => {
      if (!runtime.config.databaseUrl) {
        runtime.logger.error('usage needs PostgreSQL (DATABASE_URL): ingestion and rating are off');
        return async () => undefined;
      }
      const usage = createUsageRuntime(runtime, options.planSource);
      const env = process.env;
      const which = new Set<string>(options.consumers ?? (env.USAGE_CONSUMERS ?? 'ingest,subscribers,owners,charges,sessions,bills,sweeper,bundles,offers').split(',').map((s) => s.trim()));
      const schema = runtime.config.databaseSchema;
      const prefix = options.consumerPrefix ?? env.USAGE_CONSUMER_PREFIX ?? (schema === 'usage' ? 'usage' : `usage-${schema}`);
      const deliverNew = options.deliverNew ?? env.USAGE_DELIVER_NEW === '1';
      const stops: (() => Promise<void>)[] = [];
      const { messaging, logger, clock } = runtime;
      const onDropped = (subject: string, reason: string) => usage.metrics.subscriberEventsDropped.inc({ subject, reason });
      if (which.has('subscribers')) {
        const onLines = (lines: { lineIds: string[]; msisdns: string[] }) => reprocessWaiting(usage.sql, usage.pipeline, lines, logger);
        stops.push(await startSubscriberEventsConsumer(messaging, usage.directory, { durable: `${prefix}-subscribers`, deliverNew, logger, onLines, onDropped }));
      }
      if (which.has('owners')) {
        const onPartners = (accounts: PartnerAccount[]) => reprocessPartnersRecords(usage.sql, usage.pipeline, usage.directory, accounts, logger);
        stops.push(await startAccountOwnersConsumer(messaging, usage.sql, { durable: `${prefix}-owners`, deliverNew, logger, onPartners, onDropped }));
        // The bill cycles of accounts `owners` recorded before it kept them (its durable had read their events already).
        stops.push(await startAccountTermsConsumer(messaging, usage.sql, { durable: `${prefix}-owners-terms`, deliverNew, logger }));
      }
      if (which.has('ingest')) stops.push(await startIngestConsumer(messaging, usage.pipeline, { durable: `${prefix}-ingest`, deliverNew, batch: Number(env.USAGE_INGEST_BATCH ?? 1000), concurrency: Number(env.USAGE_INGEST_CONCURRENCY ?? 3), ackWaitMs: Number(env.USAGE_INGEST_ACK_WAIT_MS ?? 30_000), logger }));
      if (which.has('charges')) {
        stops.push(await startChargeResultConsumer(messaging, usage.sql, { durable: `${prefix}-charges`, deliverNew, logger, clock, onApplied: (lineId, billingAccountId) => usage.pipeline.invalidateCounters(lineId, billingAccountId), onSettled: (outcome, records) => usage.metrics.chargesSettled.inc({ outcome }, records), onDropped: (reason, results) => usage.metrics.chargeResultsDropped.inc({ reason }, results), spendAlerts: (accounts) => usage.pipeline.spendAlertSetsOf(accounts), onNotices: () => runtime.relay.nudge() }));
      }
      if (which.has('sessions')) {
        stops.push(await startChargingSessionResponder(messaging, usage, runtime));
        // Sessions whose network element stopped reporting are closed (reservation released, record stored).
        const idleMs = Number(env.USAGE_SESSION_IDLE_MS ?? 15 * 60_000);
        stops.push(startSweeper({ what: 'closed charging sessions that stopped reporting', intervalMs: Number(env.USAGE_SESSION_SWEEP_MS ?? 60_000), logger, pass: async () => {
          const n = await closeStaleSessions(usage, messaging.nc, clock.now(), idleMs);
          return { done: n, more: n >= 100 };
        } }));
      }
      if (which.has('bundles')) {
        const onLine = (lineId: string, billingAccountId: string) => usage.pipeline.invalidateCounters(lineId, billingAccountId || undefined);
        stops.push(await startBundleEventsConsumer(messaging, usage.directory, { durable: `${prefix}-bundles`, deliverNew, logger, sql: usage.sql, onLine }));
        stops.push(await startBundleFeeDueConsumer(messaging, usage.directory, { durable: `${prefix}-bundle-fees`, deliverNew, logger }));
        stops.push(await startRolledOverConsumer(messaging, { durable: `${prefix}-rollovers`, deliverNew, logger, sql: usage.sql, onLine }));
      }
      if (which.has('offers')) stops.push(await startOfferEventsConsumer(messaging, usage.plans, { durable: `${prefix}-offers`, deliverNew, logger }));
      if (which.has('bills')) stops.push(await startBillEventsConsumer(messaging, usage.sql, usage.pipeline, { durable: `${prefix}-bills`, deliverNew, logger, onDropped: (reason) => usage.metrics.billEventsDropped.inc({ reason }) }));
      if (which.has('sweeper')) {
        const graceMs = Number(env.USAGE_CHARGE_RESEND_AFTER_MS ?? 60_000);
        stops.push(startSweeper({ what: 're-published ChargeRequests that no ChargeResult answered', intervalMs: Number(env.USAGE_CHARGE_SWEEP_MS ?? 5000), logger, pass: async () => {
          const n = await sweepChargesCounted(usage, clock.now(), { graceMs });
          return { done: n, more: n >= 2000 };
        } }));
      }
      return async () => {
        for (const stop of stops.reverse()) await stop();
        await usage.sql.end();
      };
    },
  };
}

export const usageService: ServiceDefinition = createUsageService();
