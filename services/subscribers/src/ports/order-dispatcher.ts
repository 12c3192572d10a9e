import type { ServiceRuntime } from '@ledgerline/platform';
import { runOrderSaga, type SagaDeps, type SagaOptions } from '../application/order-saga';
import { recoverOrders, type RecoveredOrder } from '../application/recover-orders';
import type { OrderEffects } from '../application/add-on-settlement';
import type { ProvisioningAdapter } from './provisioning';

/** Hands a placed (committed) order to whatever fulfils it. */
export interface OrderDispatcher {
  /** Resolves when the order is handed over; an inline dispatcher resolves when it is fulfilled. */
  dispatch(orderId: string, runtime: ServiceRuntime): Promise<void>;
  /**
   * Resumes the orders whose fulfilment died with its process (the inline saga's recovery sweep).
   * Absent for Temporal, whose workflows survive a crash: the service's sweep hands it only the
   * orders never handed over.
   */
  recover?(runtime: ServiceRuntime): Promise<RecoveredOrder[]>;
  /** The process is stopping: take no further saga step (the sweep of another replica resumes). */
  stop?(): void;
}

/** Fulfils orders in this process with the same saga as the Temporal workflow (no Temporal needed). */
export class InlineOrderDispatcher implements OrderDispatcher {
  constructor(
    private readonly provisioning: ProvisioningAdapter,
    private readonly options: SagaOptions = {},
    /** Wallets and catalog for add-on settlement; the service sets them (see createSubscribersService). */
    public effects?: OrderEffects,
  ) {}

  private readonly stopping = new AbortController();

  private sagaDeps(runtime: ServiceRuntime): SagaDeps {
    return { orm: runtime.orm, clock: runtime.clock, provisioning: this.provisioning, effects: this.effects, onCommit: () => runtime.relay.nudge(), signal: this.stopping.signal };
  }

  async dispatch(orderId: string, runtime: ServiceRuntime): Promise<void> {
    await runOrderSaga(this.sagaDeps(runtime), orderId, this.options);
  }

  recover(runtime: ServiceRuntime): Promise<RecoveredOrder[]> {
    return recoverOrders(this.sagaDeps(runtime), this.options);
  }

  stop(): void {
    this.stopping.abort();
  }
}
