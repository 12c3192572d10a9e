import { approvalDailyLimitsFromEnv, approvalLimitsFromEnv, approvalTtlHoursFromEnv } from '@ledgerline/contracts';
import { ConfigError, type ServiceDefinition, type ServiceRuntime } from '@ledgerline/platform';
import { entities } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';
import { openDb } from './persistence/sql';
import { setDeps } from './deps';
import { rechargeStarterFromEnv } from './adapters/recharge-starter';
import { GraphqlCatalogClient } from './adapters/catalog-client';
import { startConsumers } from './events/consumers';
import { startJobs } from './jobs/jobs';
import { chargeKeyRetriesCounter, registerOpenRechargeGauges, registerRefundFailedRechargeGauge, voucherAttemptsRefusedCounter } from './application/metrics';
import { voucherLimitsFromEnv } from './application/vouchers';
import { setAutoTopupRetryPolicy } from './application/balance-events';
import { autoTopupRetryPolicyFromEnv } from './application/auto-topup-settings';
import { closedLateUsageGraceHoursFromEnv } from './application/close-account-wallets';

export interface WalletsOptions {
  env?: NodeJS.ProcessEnv;
}

/** The wallets subgraph. `env` selects Temporal (TEMPORAL_ADDRESS, WALLETS_TEMPORAL=off), CATALOG_URL and the consumers. */
export function createWalletsService(options: WalletsOptions = {}): ServiceDefinition {
  const env = options.env ?? process.env;
  return {
    name: 'wallets',
    schemaPath: new URL('../schema.graphql', import.meta.url),
    entities,
    migrations,
    resolvers: resolvers as never,
    async background(runtime: ServiceRuntime) {
      // First: a bad LEDGERLINE_APPROVAL_LIMITS or LEDGERLINE_APPROVAL_DAILY_LIMITS stops start-up, naming it, with nothing opened.
      const approvalLimits = approvalLimitsFromEnv(env);
      const approvalDailyLimits = approvalDailyLimitsFromEnv(env);
      const approvalTtlHours = approvalTtlHoursFromEnv(env);
      const voucherLimits = voucherLimitsFromEnv(env);
      const closedLateUsageGraceHours = closedLateUsageGraceHoursFromEnv(env);
      if (!runtime.config.databaseUrl) throw new ConfigError('DATABASE_URL', 'the wallets service needs PostgreSQL (its ledger uses row locks and set-based SQL); set DATABASE_URL');
      // Before anything is opened: a bad setting stops start-up with nothing to close.
      setAutoTopupRetryPolicy(autoTopupRetryPolicyFromEnv(env));
      const db = openDb(runtime.config.databaseUrl, runtime.config.databaseSchema, undefined, runtime.logger);
      const rechargeStarter = rechargeStarterFromEnv(env);
      const catalog = env.CATALOG_URL ? new GraphqlCatalogClient(env.CATALOG_URL) : null;
      setDeps(runtime, { db, rechargeStarter, catalog, approvalLimits, approvalDailyLimits, approvalTtlHours, voucherLimits, voucherAttemptsRefused: voucherAttemptsRefusedCounter(runtime.metrics), chargeKeyRetries: chargeKeyRetriesCounter(runtime.metrics), closedLateUsageGraceHours });
      registerOpenRechargeGauges(runtime.metrics, async () => (await db.query<{ n: string; oldest: Date | null }>(`select count(*) as n, min(created_at) as oldest from recharge where status in ('STARTING', 'STARTED')`))[0], () => runtime.clock.now());
      registerRefundFailedRechargeGauge(runtime.metrics, async () => Number((await db.query<{ n: string }>(`select count(*) as n from recharge where status = 'REFUND_FAILED'`))[0]?.n ?? 0));
      const stops: (() => Promise<void>)[] = [];
      if (env.WALLETS_CONSUMERS !== 'off') {
        const suffix = runtime.config.databaseSchema === 'wallets' ? '' : `-${runtime.config.databaseSchema.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
        stops.push(startConsumers(runtime, db, catalog, { durableSuffix: suffix, deliverNew: env.WALLETS_CONSUMER_DELIVER === 'new', batchSize: Number(env.WALLETS_CHARGE_BATCH ?? 1000), chargeLanes: Number(env.WALLETS_CHARGE_LANES ?? 2), rpcPrefix: env.WALLETS_RPC_PREFIX ?? '', rpcWaitMs: Number(env.WALLETS_RPC_WAIT_MS ?? 1), rpcMaxBatch: Number(env.WALLETS_RPC_MAX_BATCH ?? 200), rpcInFlight: Number(env.WALLETS_RPC_IN_FLIGHT ?? 3), ownAccountsOnly: ownAccountsOnly(env, runtime.config.databaseSchema) }));
      }
      if (env.WALLETS_JOBS !== 'off') stops.push(startJobs(runtime, db, Number(env.WALLETS_JOB_INTERVAL_MS ?? 30_000), { lateUsageGraceMs: env.WALLETS_LATE_USAGE_GRACE_MS ? Number(env.WALLETS_LATE_USAGE_GRACE_MS) : undefined, approvalTtlHours }));
      return async () => {
        for (const stop of stops.reverse()) await stop();
        await rechargeStarter?.close();
        await db.close();
      };
    },
  };
}

/**
 * `WALLETS_OWN_ACCOUNTS_ONLY=1` when several wallets deployments share one NATS; test and
 * end-to-end runs (schemas `t_…`, `e2e_…`) always do.
 */
function ownAccountsOnly(env: NodeJS.ProcessEnv, schema: string): boolean {
  return env.WALLETS_OWN_ACCOUNTS_ONLY === '1' || /^(t|e2e)_/.test(schema);
}

export const walletsService: ServiceDefinition = createWalletsService();
