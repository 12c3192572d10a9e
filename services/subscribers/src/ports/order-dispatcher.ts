import type { ServiceRuntime } from '@ledgerline/platform';
import { runOrderSaga, type SagaDeps, type SagaOptions } from '../application/order-saga';
import { recoverOrders, type RecoveredOrder } from '../application/recover-orders';
import type { OrderEffects } from '../application/add-on-settlement';
import type { ProvisioningAdapter } from './provisioning';

/**
 * A fulfilment run that ended without settling its order (terminated, failed, timed out, cancelled):
 * nothing will move the order any more, and with one run per order id none can be started again.
 */
export interface EndedFulfilment {
  /** How the run ended, as the fulfilment engine names it (Temporal: TERMINATED, FAILED, TIMED_OUT, CANCELLED). */
  status: string;
  /** What it said (the termination reason, the failure's message), for staff. */
  reason: string;
}

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
  /**
   * Temporal: the order's run, if it has ended without settling the order (the re-dispatch sweep
   * then fails the order, `failEndedOrder`); null while it runs, or if there is none. Absent for the
   * inline saga, whose recovery sweep resumes a dead run itself.
   */
  endedRun?(orderId: string): Promise<EndedFulfilment | null>;
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
    return { orm: runtime.orm, clock: runtime.clock, provisioning: this.provisioning, effects: this.effects, onCommit: () => runtime.relay.nudge(), signal: this.stopping.signal, logger: runtime.logger };
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
