// What the collections-hold tests share: the subscribers service with in-process fulfilment that a
// test can hold back (orders handed over and fulfilled later, as Temporal fulfilment does).
import { startServiceForTest, type ManualClock, type ServiceRuntime, type TestService } from '@ledgerline/platform';
import { createSubscribersService } from '../src/service';
import { InlineOrderDispatcher, type OrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { FileCatalog } from './support';

/** Fulfils orders in process, or, while `defer` is set, queues them for `fulfil()`. */
export class DeferrableDispatcher implements OrderDispatcher {
  defer = false;
  readonly queued: string[] = [];
  private runtime: ServiceRuntime | undefined;
  constructor(private readonly inner: InlineOrderDispatcher) {}
  async dispatch(orderId: string, runtime: ServiceRuntime): Promise<void> {
    this.runtime = runtime;
    if (this.defer) this.queued.push(orderId);
    else await this.inner.dispatch(orderId, runtime);
  }
  /** Fulfils the queued orders in the order they were handed over (`defer` stays as it is). */
  async fulfil(): Promise<void> {
    for (const id of this.queued.splice(0)) await this.inner.dispatch(id, this.runtime!);
  }
}

export async function startHoldsService(clock: ManualClock): Promise<{ svc: TestService; dispatcher: DeferrableDispatcher }> {
  const sandbox = new SandboxProvisioning();
  const catalog = new FileCatalog();
  const dispatcher = new DeferrableDispatcher(new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog }));
  const svc = await startServiceForTest(
    createSubscribersService({ catalog, provisioning: sandbox, dispatcher, sweepIntervalMs: 0, wallets: null, notifications: false }),
    { clock },
  );
  return { svc, dispatcher };
}
