import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createWalletsService } from '../../wallets/src/service';
import { createSubscribersService } from '../src/service';
import { Customer } from '../src/persistence/entities';
import type { OrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';
import { FileCatalog } from './support';
import { startWalletsOutageProxy } from './wallets-outage-proxy';

/** The real wallets service (no Temporal, no jobs, new deliveries only), as the add-on tests run it. */
export function startWalletsForAddOns(clock: ManualClock): Promise<TestService> {
  const env = { WALLETS_TEMPORAL: 'off', WALLETS_CONSUMER_DELIVER: 'new', WALLETS_JOBS: 'off' };
  return startServiceForTest(createWalletsService({ env: { ...process.env, ...env } }), { clock, env });
}

/**
 * Wallets behind the outage proxy and subscribers in Temporal mode (orders handed to a workflow that
 * does nothing: the test drives the order steps through the API, as the workflow's activities do),
 * with one customer `cus_1`.
 */
export async function startTemporalAddOnServices(start: Date, customerName: string) {
  const clock = new ManualClock(start);
  const wallets = await startWalletsForAddOns(clock);
  const proxy = await startWalletsOutageProxy(wallets.url);
  const workflow: OrderDispatcher = { dispatch: async () => undefined };
  const subscribers = await startServiceForTest(
    createSubscribersService({
      catalog: new FileCatalog(),
      provisioning: new SandboxProvisioning(),
      dispatcher: workflow,
      wallets: new GraphqlWalletsClient(proxy.url, DEV_INTERNAL_SECRET),
      sweepIntervalMs: 0,
      notifications: false,
    }),
    { clock },
  );
  const em = subscribers.runtime.orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: customerName, kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: start });
  await em.flush();
  return {
    clock,
    wallets,
    subscribers,
    proxy,
    async close() {
      await subscribers.close();
      await proxy.close();
      await wallets.close();
    },
  };
}

/** A GraphQL call to wallets that must succeed: its data. */
export async function walletsData(wallets: TestService, query: string, variables: Record<string, unknown>): Promise<any> {
  const r = await wallets.request<any>(query, variables);
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.data;
}
