import { entityLoader, groupLoader, secretSetting, type Em, type ServiceDefinition, type ServiceRuntime } from '@ledgerline/platform';
import { BillingAccount, Customer, entities, Line, OneOffCharge, ProductOrder, Subscription } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers, type SubscribersDeps } from './graphql/resolvers';
import { GraphqlCatalogClient, type CatalogClient } from './ports/catalog-client';
import { InlineOrderDispatcher, type OrderDispatcher } from './ports/order-dispatcher';
import { SandboxProvisioning, type ProvisioningAdapter } from './ports/provisioning';
import { activateDueSubscriptions } from './application/activate-due-subscriptions';
import { deliverDueNotifications } from './application/notifications';
import { registerCollectionsGauges, registerNetworkUndoGauges } from './application/metrics';
import { retryRefusedCollectionsOrders } from './application/retry-collections-orders';
import { endedOrdersCounter, redispatchOrders } from './application/redispatch-orders';
import { startNotificationConsumers } from './events/notification-consumer';
import { ChannelRouter, type NotificationSender } from './ports/notification-sender';
import { GraphqlWalletsClient, type WalletsPort } from './ports/wallets-client';
import { numberQuarantineDays } from './application/number-quarantine';

export interface SubscribersServiceOptions {
  /** Default: GraphQL client of the catalog at CATALOG_URL. */
  catalog?: CatalogClient;
  /** Default: the sandbox network (no real provisioning system is wired yet). */
  provisioning?: ProvisioningAdapter;
  /** Default: fulfil orders in-process with the order saga. */
  dispatcher?: OrderDispatcher;
  /** Wallets for add-on settlement (default: the wallets service at WALLETS_URL, or none). */
  wallets?: WalletsPort | null;
  /** How often end-of-cycle plan changes are swept (ms, default 60 s; 0 turns the sweep off). */
  sweepIntervalMs?: number;
  /**
   * Customer notifications from other services' events (default on). `sender` replaces the
   * channel router (signed webhooks; SMS, e-mail and push logged); `intervalMs` is how often due
   * messages are retried (default 1 s).
   */
  notifications?: { sender?: NotificationSender; intervalMs?: number } | false;
  /** Days a terminated line's number is held back from other customers (default SUBSCRIBERS_NUMBER_QUARANTINE_DAYS, else 90; 0: off). */
  numberQuarantineDays?: number;
}

export function createSubscribersService(options: SubscribersServiceOptions = {}): ServiceDefinition & { deps: SubscribersDeps } {
  const provisioning = options.provisioning ?? new SandboxProvisioning();
  const catalog = options.catalog ?? GraphqlCatalogClient.fromEnv();
  const wallets = options.wallets === undefined ? GraphqlWalletsClient.fromEnv() : options.wallets;
  const dispatcher = options.dispatcher ?? new InlineOrderDispatcher(provisioning);
  // An in-process saga completes orders itself: it settles add-ons with the same wallets and catalog.
  if (dispatcher instanceof InlineOrderDispatcher) dispatcher.effects ??= { wallets, catalog };
  const deps: SubscribersDeps = { catalog, wallets, provisioning, dispatcher, numberQuarantineDays: options.numberQuarantineDays ?? numberQuarantineDays() };
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  return {
    name: 'subscribers',
    schemaPath: new URL('../schema.graphql', import.meta.url),
    entities,
    migrations,
    resolvers: resolvers as never,
    deps,
    context: ({ em }: { em: Em }) => ({
      deps,
      customers: entityLoader(em, Customer),
      accounts: entityLoader(em, BillingAccount),
      lines: entityLoader(em, Line),
      orders: entityLoader(em, ProductOrder),
      accountsOfCustomer: groupLoader((ids) => em.find(BillingAccount, { customerId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } }), (a) => a.customerId),
      childAccounts: groupLoader((ids) => em.find(BillingAccount, { parentAccountId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } }), (a) => a.parentAccountId!),
      linesOfAccount: groupLoader((ids) => em.find(Line, { billingAccountId: { $in: [...ids] } }, { orderBy: { msisdn: 'asc', createdAt: 'asc' } }), (l) => l.billingAccountId),
      subscriptionsOfLine: groupLoader((ids) => em.find(Subscription, { lineId: { $in: [...ids] } }, { orderBy: { startsAt: 'desc', createdAt: 'desc' } }), (s) => s.lineId),
      ordersOfLine: groupLoader((ids) => em.find(ProductOrder, { lineId: { $in: [...ids] } }, { orderBy: { createdAt: 'desc', id: 'asc' } }), (o) => o.lineId),
      ordersOfAccount: groupLoader((ids) => em.find(ProductOrder, { billingAccountId: { $in: [...ids] } }, { orderBy: { createdAt: 'desc', id: 'asc' } }), (o) => o.billingAccountId),
      chargesOfAccount: groupLoader((ids) => em.find(OneOffCharge, { billingAccountId: { $in: [...ids] } }, { orderBy: { chargedAt: 'asc', id: 'asc' } }), (c) => c.billingAccountId),
    }),
    background: async (runtime: ServiceRuntime) => {
      registerCollectionsGauges(runtime.metrics, () => runtime.orm.em.fork() as Em);
      registerNetworkUndoGauges(runtime.metrics, () => runtime.orm.em.fork() as Em, runtime.clock);
      const stops = [startSweeps(runtime, deps, sweepIntervalMs), async () => deps.dispatcher.stop?.()];
      if (options.notifications !== false) stops.push(await startNotifications(runtime, options.notifications ?? {}));
      return async () => {
        for (const stop of stops) await stop();
      };
    },
  };
}

function startSweeps(runtime: ServiceRuntime, deps: SubscribersDeps, sweepIntervalMs: number): () => Promise<void> {
  if (!sweepIntervalMs) return async () => {};
  const ended = deps.dispatcher.endedRun ? endedOrdersCounter(runtime.metrics) : undefined;
  const timer = setInterval(() => {
    void runtime.orm.em
      .fork()
      .transactional((em) => activateDueSubscriptions(em as Em, runtime.clock.now()))
      .then((n) => n && runtime.relay.nudge())
      .catch((err) => runtime.logger.warn({ err }, 'subscription sweep failed'));
    // Collections bars and resumptions the network refused: asked again with the request's key
    // (application/retry-collections-orders.ts), the orders handed to fulfilment like any other.
    void retryRefusedCollectionsOrders(runtime.orm.em.fork() as Em, runtime.clock.now())
      .then(async (r) => {
        for (const e of r.errors) runtime.logger.warn({ err: e.error, holdId: e.holdId }, 'collections retry refused; tried again at the next sweep');
        if (r.orders.length) runtime.relay.nudge();
        for (const o of r.orders) await deps.dispatcher.dispatch(o.id, runtime);
      })
      .catch((err) => runtime.logger.warn({ err }, 'collections retry sweep failed'));
    // In-process sagas: orders whose saga is not running (never handed over, or its process died:
    // lease expired) are resumed, each by one replica (application/recover-orders.ts).
    if (deps.dispatcher.recover) {
      void deps.dispatcher
        .recover(runtime)
        .then((done) => {
          for (const r of done) if (r.error) runtime.logger.warn({ err: r.error, orderId: r.orderId }, 'resumed order saga stopped; retried at the next sweep');
        })
        .catch((err) => runtime.logger.warn({ err }, 'order recovery failed'));
      return;
    }
    // Temporal: orders committed but never handed over (dispatcher down at the time) are handed
    // over again (a workflow per order id, so a repeat joins the running one); an order whose
    // workflow ended without settling it is failed (application/redispatch-orders.ts).
    void redispatchOrders(runtime, { dispatcher: deps.dispatcher, effects: { wallets: deps.wallets, catalog: deps.catalog }, ended }, sweepIntervalMs).catch((err) => runtime.logger.warn({ err }, 'order re-dispatch failed'));
  }, sweepIntervalMs);
  timer.unref();
  return async () => clearInterval(timer);
}

/** Consumes notifying events into messages and sends what is due: at once when stored, and on a timer for retries. */
async function startNotifications(runtime: ServiceRuntime, options: { sender?: NotificationSender; intervalMs?: number }): Promise<() => Promise<void>> {
  const sender = options.sender ?? new ChannelRouter({ webhookSecret: secretSetting(process.env, 'NOTIFY_WEBHOOK_SECRET', 'ledgerline-dev-webhook-secret'), logger: runtime.logger });
  let running: Promise<unknown> | null = null;
  let again = false;
  const deliver = () => {
    if (running) {
      again = true;
      return;
    }
    running = deliverDueNotifications(runtime.orm.em.fork() as Em, sender, runtime.clock.now(), runtime.logger)
      .catch((err) => runtime.logger.warn({ err }, 'notification delivery failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          deliver();
        }
      });
  };
  const stopConsumers = await startNotificationConsumers(runtime, deliver);
  const timer = setInterval(deliver, options.intervalMs ?? 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await stopConsumers();
    await running;
  };
}

export const subscribersService = createSubscribersService();
