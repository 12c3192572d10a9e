// Start-up of the Ledgerline Temporal worker: configuration, logging, clients, worker, shutdown.
// Everything else lives in the modules it wires together.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, type Logger as TemporalLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { pino, type Logger } from 'pino';
import { createActivities, type ActivityDeps } from './activities';
import { GraphqlBillingPeriodsClient, GraphqlReceiptsClient, GraphqlWalletsClient } from './adapters/graphql';
import { InMemoryBillingPeriodsClient, InMemoryReceiptsClient, InMemoryWalletsClient } from './adapters/in-memory';
import { SandboxPaymentProvider } from './adapters/sandbox-payment-provider';
import { bundlePath } from './bundle';
import { createWorker, DEFAULT_TASK_QUEUE } from './worker';
import { createInvoicingActivities, GraphqlDunningNotices, GraphqlInvoicingClient, GraphqlLineControlClient } from './activities/invoicing';
import { createOrderActivities, GraphqlOrdersClient } from './activities/orders';
import { SandboxNetworkProvisioning } from './adapters/sandbox-network';
import { createUpsellActivities, GraphqlUpsellClient } from './activities/upsell';
import { createDisputeActivities, GraphqlDisputesClient, InMemoryDisputes } from './activities/disputes';
import { startOfferBridge } from './offer-bridge';
import { startBillCycleBridge } from './bill-cycle-bridge';
import { backfillBillCycles, GraphqlPostpaidAccountsClient } from './bill-cycle-backfill';
import { createDunningHoldSweep, GraphqlOpenHoldsClient, startDunningHoldSweep, TemporalDunningRuns } from './dunning-hold-sweep';
import { Client, Connection } from '@temporalio/client';
import { connectMessaging } from '@ledgerline/platform';
import { metricsTelemetry, readMetricsAddress } from './worker-metrics';

export interface WorkerConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** GraphQL endpoints; each falls back to the gateway. Absent everywhere → in-memory fakes. */
  walletsUrl?: string;
  invoicingUrl?: string;
  serviceToken?: string;
  paymentProvider: 'sandbox';
  /** Lifting the collections holds of dunnings that ended without lifting them (src/dunning-hold-sweep.ts). */
  dunningHoldSweep: { enabled: boolean; intervalMs: number; missingGraceMs: number };
  /** Subscribers' billing-account events start and close each POSTPAID account's bill cycle (src/bill-cycle-bridge.ts). */
  billCycleBridge: boolean;
  /** Once at start, after the bridge: start the cycles of open postpaid accounts that have none (src/bill-cycle-backfill.ts). */
  billCycleBackfill: boolean;
  /** Where the worker serves Prometheus metrics (WORKER_METRICS_ADDRESS, src/worker-metrics.ts); undefined: nowhere. */
  metricsAddress?: string;
}

/** A whole number of milliseconds from the environment, or a message naming the variable. */
function millis(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}=${raw}: give a whole number of milliseconds, at least ${min}`);
  return n;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const gateway = env.GATEWAY_URL || undefined;
  const paymentProvider = env.PAYMENT_PROVIDER ?? 'sandbox';
  if (paymentProvider !== 'sandbox') {
    throw new Error(`PAYMENT_PROVIDER=${paymentProvider} is not supported; the only provider so far is "sandbox"`);
  }
  // Production: the worker calls the graph as SYSTEM; without a real token every call is refused (deploy/k8s ships `change-me`).
  // Review 11: whichever URL it calls it by, and never on the in-memory stand-ins.
  if (env.NODE_ENV === 'production' && !((env.WALLETS_GRAPHQL_URL || gateway) && (env.INVOICING_GRAPHQL_URL || gateway))) {
    throw new Error('GATEWAY_URL: set it (or WALLETS_GRAPHQL_URL and INVOICING_GRAPHQL_URL) in production; the worker does not run on its in-memory stand-ins there');
  }
  if (env.NODE_ENV === 'production' && (!env.LEDGERLINE_SERVICE_TOKEN || /change-?me/i.test(env.LEDGERLINE_SERVICE_TOKEN))) {
    throw new Error('LEDGERLINE_SERVICE_TOKEN: set a SYSTEM token for the worker in production (`npx ledgerline token --role SYSTEM --expires-in 365d` with the gateway\'s JWT_SECRET)');
  }
  const sweep = env.DUNNING_HOLD_SWEEP || 'on';
  if (sweep !== 'on' && sweep !== 'off') throw new Error(`DUNNING_HOLD_SWEEP=${sweep}: give "on" or "off"`);
  const billCycleBridge = env.BILL_CYCLE_BRIDGE || 'on';
  if (billCycleBridge !== 'on' && billCycleBridge !== 'off') throw new Error(`BILL_CYCLE_BRIDGE=${billCycleBridge}: give "on" or "off"`);
  // Off by default: it reads every open postpaid account and asks Temporal about each, on every start.
  const billCycleBackfill = env.BILL_CYCLE_BACKFILL || 'off';
  if (billCycleBackfill !== 'on' && billCycleBackfill !== 'off') throw new Error(`BILL_CYCLE_BACKFILL=${billCycleBackfill}: give "on" or "off"`);
  // Without the bridge nobody would tell the cycles it starts that their account closed.
  if (billCycleBackfill === 'on' && billCycleBridge === 'off') throw new Error('BILL_CYCLE_BACKFILL=on needs BILL_CYCLE_BRIDGE=on: without the bridge the cycles it starts never hear that their account closed');
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    walletsUrl: env.WALLETS_GRAPHQL_URL || gateway,
    invoicingUrl: env.INVOICING_GRAPHQL_URL || gateway,
    serviceToken: env.LEDGERLINE_SERVICE_TOKEN || undefined,
    paymentProvider,
    dunningHoldSweep: {
      enabled: sweep === 'on',
      intervalMs: millis(env, 'DUNNING_HOLD_SWEEP_INTERVAL_MS', 5 * 60_000, 1000),
      missingGraceMs: millis(env, 'DUNNING_HOLD_SWEEP_MISSING_GRACE_MS', 7 * 86_400_000, 0),
    },
    billCycleBridge: billCycleBridge === 'on',
    billCycleBackfill: billCycleBackfill === 'on',
    metricsAddress: readMetricsAddress(env),
  };
}

export function buildDeps(config: WorkerConfig, logger: Logger): ActivityDeps {
  const headers: Record<string, string> = config.serviceToken ? { authorization: `Bearer ${config.serviceToken}` } : {};
  const fake = (what: string) => {
    logger.warn({ what }, `${what}: no GraphQL URL configured (set GATEWAY_URL); using an in-memory stand-in`);
  };
  if (!config.walletsUrl) fake('wallets');
  if (!config.invoicingUrl) fake('invoicing');
  return {
    payments: new SandboxPaymentProvider(),
    wallets: config.walletsUrl ? new GraphqlWalletsClient({ url: config.walletsUrl, headers }) : new InMemoryWalletsClient(),
    receipts: config.invoicingUrl ? new GraphqlReceiptsClient({ url: config.invoicingUrl, headers }) : new InMemoryReceiptsClient(),
    billingPeriods: config.invoicingUrl ? new GraphqlBillingPeriodsClient({ url: config.invoicingUrl, headers }) : new InMemoryBillingPeriodsClient(),
  };
}

/** Bill runs, dunning and order fulfilment: they need the graph; without it they are not registered. */
function moreActivities(config: WorkerConfig, logger: Logger) {
  const url = config.invoicingUrl;
  if (!url) return {};
  const headers: Record<string, string> = config.serviceToken ? { authorization: `Bearer ${config.serviceToken}` } : {};
  return {
    ...createInvoicingActivities({
      invoicing: new GraphqlInvoicingClient({ url, headers }),
      // Dunning's customer notices: invoicing publishes them, subscribers sends the messages.
      reminders: new GraphqlDunningNotices({ url, headers }),
      lines: new GraphqlLineControlClient({ url, headers }),
    }),
    ...createOrderActivities({ orders: new GraphqlOrdersClient(url, headers), provisioning: new SandboxNetworkProvisioning(logger) }),
    ...createUpsellActivities({ upsell: new GraphqlUpsellClient({ url, headers }) }),
  };
}

/** Dispute resolution: invoicing's disputes through the graph, or an in-memory stand-in without it. */
function disputeActivities(config: WorkerConfig, logger: Logger) {
  const url = config.invoicingUrl;
  if (!url) logger.warn({ what: 'disputes' }, 'disputes: no GraphQL URL configured (set GATEWAY_URL); using an in-memory stand-in');
  const headers: Record<string, string> = config.serviceToken ? { authorization: `Bearer ${config.serviceToken}` } : {};
  return createDisputeActivities({ disputes: url ? new GraphqlDisputesClient({ url, headers }) : new InMemoryDisputes() });
}

/**
 * The sweep that lifts the collections holds of dunnings an operator terminated (or that failed,
 * timed out, were cancelled). Needs the graph (subscribers) and a Temporal client of the namespace
 * invoicing starts dunnings in; every worker may run it (the lifts are keyed by the holds).
 */
async function startDunningHoldSweeper(config: WorkerConfig, logger: Logger): Promise<() => Promise<void>> {
  const { enabled, intervalMs, missingGraceMs } = config.dunningHoldSweep;
  if (!enabled) {
    logger.info('DUNNING_HOLD_SWEEP=off: holds of terminated dunnings are not lifted by the worker');
    return async () => {};
  }
  const url = config.invoicingUrl;
  if (!url) return async () => {}; // no graph, no dunning activities either (warned above)
  const headers: Record<string, string> = config.serviceToken ? { authorization: `Bearer ${config.serviceToken}` } : {};
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.namespace });
  const sweep = createDunningHoldSweep({
    holds: new GraphqlOpenHoldsClient({ url, headers }),
    lines: new GraphqlLineControlClient({ url, headers }),
    runs: new TemporalDunningRuns(client),
    logger,
    missingGraceMs,
  });
  const stop = startDunningHoldSweep(sweep, { intervalMs, logger });
  logger.info({ intervalMs, missingGraceMs, namespace: config.namespace }, 'dunning hold sweep running');
  return async () => {
    await stop();
    await connection.close();
  };
}

/** Routes the Temporal SDK's logs (worker, workflow `log`, activity `log`) into pino. */
function temporalLogger(logger: Logger): TemporalLogger {
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };
  const at = (level: LogLevel) => (message: string, meta?: LogMetadata) => logger[levels[level]]({ ...meta }, message);
  return { log: (level, message, meta) => at(level)(message, meta), trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

/**
 * Events that start workflows (a plan's offer rule → upsellOfferWorkflow; a postpaid account opened
 * → billCycleWorkflow, closed → its `accountClosed`, unless BILL_CYCLE_BRIDGE=off). Needs NATS_URL
 * and the graph; an end-to-end run (DB_SCHEMA_PREFIX) gets its own throwaway consumers.
 */
async function startEventBridges(config: WorkerConfig, logger: Logger): Promise<() => Promise<void>> {
  const natsUrl = process.env.NATS_URL;
  if (!natsUrl || !config.invoicingUrl) {
    logger.warn('NATS_URL or GATEWAY_URL not set: events do not start upsell offers or bill cycles');
    return async () => {};
  }
  const messaging = await connectMessaging(natsUrl, 'ledgerline-worker');
  const clientConnection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.namespace });
  const prefix = process.env.DB_SCHEMA_PREFIX ?? '';
  const host = { messaging, client, taskQueue: config.taskQueue, logger, name: 'worker', suffix: prefix ? prefix.replace(/_+$/, '') : undefined, throwaway: Boolean(prefix) };
  const stop = await startOfferBridge(host);
  if (!config.billCycleBridge) logger.info('BILL_CYCLE_BRIDGE=off: opening and closing accounts starts and ends no bill cycle (bill runs bill them)');
  const stopBillCycles = config.billCycleBridge ? await startBillCycleBridge(host) : async () => {};
  // After the bridge's consumer exists: an account opened from now on is the bridge's, any before is listed here.
  const backfill = config.billCycleBackfill ? runBillCycleBackfill(config, client, logger) : Promise.resolve();
  return async () => {
    await backfill;
    await stopBillCycles();
    await stop();
    await messaging.nc.drain().catch(() => undefined);
    await clientConnection.close();
  };
}

/** BILL_CYCLE_BACKFILL=on: one pass in the background; a failure is logged (run `ledgerline billcycle backfill` by hand). */
async function runBillCycleBackfill(config: WorkerConfig, client: Client, logger: Logger): Promise<void> {
  const headers: Record<string, string> = config.serviceToken ? { authorization: `Bearer ${config.serviceToken}` } : {};
  try {
    const out = await backfillBillCycles({ accounts: new GraphqlPostpaidAccountsClient({ url: config.invoicingUrl!, headers }), client, taskQueue: config.taskQueue, now: new Date(), logger });
    const started = out.entries.filter((e) => e.action === 'started' || e.action === 'started-and-closed').length;
    logger.info({ examined: out.examined, started, failed: out.failed }, 'bill-cycle backfill done');
  } catch (err) {
    logger.warn({ err }, 'bill-cycle backfill failed: accounts without a cycle are billed by bill runs (or run `ledgerline billcycle backfill`)');
  }
}

export async function main(): Promise<void> {
  const logger = pino({ name: 'ledgerline-workflows', level: process.env.LOG_LEVEL ?? 'info' });
  const config = readConfig();
  Runtime.install({ logger: temporalLogger(logger), ...metricsTelemetry(config.metricsAddress) });
  if (config.metricsAddress) logger.info({ address: config.metricsAddress }, `worker metrics on http://${config.metricsAddress}/metrics`);

  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.temporalAddress });
  } catch (err) {
    logger.fatal(
      { err, address: config.temporalAddress },
      `cannot reach Temporal at ${config.temporalAddress}: start one with \`node deploy/local/temporal.mjs ensure\` (or set TEMPORAL_ADDRESS)`,
    );
    process.exitCode = 1;
    return;
  }

  const worker = await createWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    activities: { ...createActivities(buildDeps(config, logger)), ...moreActivities(config, logger), ...disputeActivities(config, logger) },
    // The prebuilt bundle (npm run build) saves the bundling time; without it, bundle now.
    ...(existsSync(bundlePath) ? { workflowBundle: { codePath: bundlePath } } : {}),
  });

  const stopBridges = await startEventBridges(config, logger);
  const stopSweep = await startDunningHoldSweeper(config, logger);

  // SIGINT/SIGTERM: stop polling, let in-flight activities finish (shutdownGraceTime), then exit.
  // Temporal redelivers anything unfinished to another worker; activities are idempotent.
  // Ctrl-C reaches every process of the group and the supervisor then sends SIGTERM: stop once.
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down the worker');
      worker.shutdown();
    });
  }

  logger.info({ address: config.temporalAddress, namespace: config.namespace, taskQueue: config.taskQueue, prebuiltBundle: existsSync(bundlePath) }, 'worker running');
  try {
    await worker.run();
  } finally {
    await stopSweep();
    await stopBridges();
    await connection.close();
    logger.info('worker stopped');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    // Fails before or outside the logger (bad config): still one JSON line a person can act on.
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: err instanceof Error ? err.message : String(err) })}\n`);
    process.exitCode = 1;
  });
}
