import type { ServiceRuntime } from '@ledgerline/platform';
import { runOrderSaga, type SagaOptions } from '../application/order-saga';
import type { OrderEffects } from '../application/add-on-settlement';
import type { ProvisioningAdapter } from './provisioning';

/** Hands a placed (committed) order to whatever fulfils it. */
export interface OrderDispatcher {
  /** Resolves when the order is handed over; an inline dispatcher resolves when it is fulfilled. */
  dispatch(orderId: string, runtime: ServiceRuntime): Promise<void>;
}

/** Fulfils orders in this process with the same saga as the Temporal workflow (no Temporal needed). */
export class InlineOrderDispatcher implements OrderDispatcher {
  constructor(
    private readonly provisioning: ProvisioningAdapter,
    private readonly options: SagaOptions = {},
    /** Wallets and catalog for add-on settlement; the service sets them (see createSubscribersService). */
    public effects?: OrderEffects,
  ) {}

  async dispatch(orderId: string, runtime: ServiceRuntime): Promise<void> {
    await runOrderSaga({ orm: runtime.orm, clock: runtime.clock, provisioning: this.provisioning, effects: this.effects, onCommit: () => runtime.relay.nudge() }, orderId, this.options);
  }
}
