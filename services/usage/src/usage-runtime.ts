/**
 * What the usage service builds on top of the platform runtime: the SQL pool of the hot path,
 * the read model, the compiled plan cache and the pipeline. One per running service instance.
 */
import { headers } from '@nats-io/transport-node';
import { WORK_SUBJECTS, deterministicId, inChargeMessages } from '@ledgerline/contracts';
import { ConfigError, type ServiceRuntime } from '@ledgerline/platform';
import { LineDirectory, lineCacheSize } from './application/line-directory';
import { catalogPlanSource, PlanCache, type PlanSource } from './application/plan-cache';
import { UsagePipeline } from './application/usage-pipeline';
import { createUsageMetrics, registerPendingChargeGauges, type UsageMetrics } from './application/metrics';
import { openSqlPool, type Sql } from './persistence/sql';

export interface UsageRuntime {
  sql: Sql;
  directory: LineDirectory;
  plans: PlanCache;
  pipeline: UsagePipeline;
  /** Publishes ChargeRequests to wallets (in chunks, see chargeChunks), resolving once JetStream stored them all. */
  publishCharges: (charges: { id: string; payload: string }[]) => Promise<void>;
  /** The service's own Prometheus metrics (on the runtime's registry, served at /metrics). */
  metrics: UsageMetrics;
}

const byRuntime = new WeakMap<ServiceRuntime, UsageRuntime>();

export function createUsageRuntime(runtime: ServiceRuntime, planSource?: PlanSource): UsageRuntime {
  const sql = openSqlPool(runtime, Number(process.env.USAGE_SQL_POOL_MAX ?? 4));
  const directory = new LineDirectory(sql, lineCacheSize(process.env.USAGE_LINE_CACHE_SIZE));
  const plans = new PlanCache(planSource ?? catalogPlanSource(process.env.CATALOG_URL ?? 'http://127.0.0.1:4001/graphql', runtime.config.internalSecret));
  const { js, nc } = runtime.messaging;
  // USAGE_CHARGE_PUBLISH=ack (default): JetStream publish, each awaited for its PubAck. "fire":
  // core-NATS publish into the stream (JetStream still dedups by Nats-Msg-Id) and one flush per
  // batch, without a PubAck per message; a charge the server did not store is re-published by
  // the charge sweeper after USAGE_CHARGE_RESEND_AFTER_MS.
  const fire = process.env.USAGE_CHARGE_PUBLISH === 'fire';
  // A batch's ChargeRequests go out as a few JSON arrays (CHARGES_PER_MESSAGE each), not one
  // message per charge; the message id is made from the chunk's charge ids.
  const publishCharges = async (charges: { id: string; payload: string }[]) => {
    const chunks = chargeChunks(charges);
    if (fire) {
      for (const c of chunks) {
        const h = headers();
        h.set('Nats-Msg-Id', c.id);
        nc.publish(WORK_SUBJECTS.chargeRequested, c.payload, { headers: h });
      }
      await nc.flush();
      return;
    }
    await Promise.all(chunks.map((c) => js.publish(WORK_SUBJECTS.chargeRequested, c.payload, { msgID: c.id })));
  };
  const metrics = createUsageMetrics(runtime.metrics);
  registerPendingChargeGauges(runtime.metrics, (text) => sql.query(text), () => runtime.clock.now());
  const pipeline = new UsagePipeline({ sql, directory, plans, clock: runtime.clock, logger: runtime.logger, onCommit: () => runtime.relay.nudge(), publishCharges, metrics, spendAlertCacheMs: spendAlertCacheMs(process.env.USAGE_SPEND_ALERT_CACHE_MS) });
  // A subscription's start or end moves (or renames) the line's allowance periods: its counters are counted again.
  directory.onSubscriptionChanged = (lineId, billingAccountId) => pipeline.invalidateCounters(lineId, billingAccountId);
  // A changed offer may change an allowance's size the counters took from it: they are counted again.
  plans.onOffersChanged = () => void pipeline.resetCounters();
  const usage = { sql, directory, plans, pipeline, publishCharges, metrics };
  byRuntime.set(runtime, usage);
  return usage;
}

export function usageRuntimeOf(runtime: ServiceRuntime): UsageRuntime {
  const usage = byRuntime.get(runtime);
  if (!usage) throw new Error('the usage runtime is not started (needs PostgreSQL: DATABASE_URL)');
  return usage;
}

/** USAGE_SPEND_ALERT_CACHE_MS: how long a usage instance rates with an account's spend alerts as it read them (default 60,000; 0 reads them for every batch). */
export function spendAlertCacheMs(value: string | undefined): number {
  if (value === undefined || value === '') return 60_000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 0) throw new ConfigError('USAGE_SPEND_ALERT_CACHE_MS', `"${value}" is not a whole number of milliseconds (0 or more)`);
  return ms;
}

/** Stored ChargeRequests (JSON) as messages of up to CHARGES_PER_MESSAGE, each a JSON array. */
export function chargeChunks(charges: { id: string; payload: string }[]): { id: string; payload: string }[] {
  return inChargeMessages(charges).map((chunk) => ({ id: deterministicId('event', 'usage', 'chargesRequested', ...chunk.map((c) => c.id)), payload: `[${chunk.map((c) => c.payload).join(',')}]` }));
}
