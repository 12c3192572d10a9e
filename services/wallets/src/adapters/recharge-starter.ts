import { ApplicationFailure, Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { DomainError, dependencyUnavailable } from '@ledgerline/contracts';

/** What the recharge workflow (workflows/src/domain/recharge.ts RechargeInput) takes. */
export interface RechargeWorkflowInput {
  rechargeId: string;
  billingAccountId: string;
  amount: string;
  currency: string;
  paymentMethodToken: string;
  channel: string;
}

/** How a recharge workflow ended, as the recharge row records it. */
export type RechargeOutcomeStatus = 'COMPLETED' | 'DECLINED' | 'FAILED' | 'REFUNDED' | 'REFUND_FAILED';
export interface RechargeOutcome {
  status: RechargeOutcomeStatus;
  /** The workflow's failure code (PAYMENT_DECLINED, PAYMENT_CAPTURE_FAILED, WALLET_CREDIT_FAILED, RECHARGE_REFUND_FAILED, TERMINATED…). */
  failure: string | null;
  /** The card's capture the workflow's failure names (REFUND_FAILED: what staff must return). */
  captureId?: string | null;
}

/** A recharge whose card was captured and neither credited nor refunded (the provider refused the refund for good). */
export const RECHARGE_REFUND_FAILED_STATUS = 'REFUND_FAILED';

/**
 * The workflow's failure code → the recharge's status: a decline took no money; a failed capture
 * voided the authorization (no money taken); a failed wallet credit refunded the capture; a refund
 * the provider refused for good left the money taken and not given back (REFUND_FAILED, for staff).
 */
export function outcomeOfFailure(code: string): RechargeOutcome {
  if (code === 'PAYMENT_DECLINED' || code === 'PAYMENT_CAPTURE_REJECTED') return { status: 'DECLINED', failure: code };
  if (code === 'WALLET_CREDIT_FAILED') return { status: 'REFUNDED', failure: code };
  if (code === 'RECHARGE_REFUND_FAILED') return { status: RECHARGE_REFUND_FAILED_STATUS, failure: code };
  return { status: 'FAILED', failure: code };
}

/** Starts the Recharge workflow; one recharge id is one workflow, ever. */
export interface RechargeStarter {
  start(input: RechargeWorkflowInput): Promise<{ workflowId: string }>;
  /** The workflow's outcome: waits for it when `wait`, else null while it still runs. */
  outcome(workflowId: string, wait: boolean): Promise<RechargeOutcome | null>;
  close(): Promise<void>;
}

export const RECHARGE_TASK_QUEUE = 'ledgerline';
export const rechargeWorkflowId = (rechargeId: string): string => `recharge-${rechargeId}`;

export function rechargeUnavailable(reason: string): DomainError {
  return new DomainError('RECHARGE_UNAVAILABLE', `Card recharges need the Temporal workflow service, which is not available: ${reason}`, { field: 'input.method' }, 'INTERNAL');
}

/** A Temporal client. Connects lazily so the service starts (and serves everything else) without Temporal. */
export class TemporalRechargeStarter implements RechargeStarter {
  private client: Promise<Client> | undefined;
  constructor(
    private readonly address: string,
    private readonly namespace = 'default',
    private readonly taskQueue = RECHARGE_TASK_QUEUE,
  ) {}

  private connect(): Promise<Client> {
    this.client ??= Connection.connect({ address: this.address, connectTimeout: 3000 })
      .then((connection) => new Client({ connection, namespace: this.namespace }))
      .catch((error: Error) => {
        this.client = undefined;
        // Temporal's address goes to the log (the error's cause), never to the customer.
        throw dependencyUnavailable('RECHARGE_UNAVAILABLE', 'Card recharges need the Temporal workflow service, which cannot be reached; try again later', this.address, error, { field: 'input.method' });
      });
    return this.client;
  }

  async start(input: RechargeWorkflowInput): Promise<{ workflowId: string }> {
    const client = await this.connect();
    const workflowId = rechargeWorkflowId(input.rechargeId);
    try {
      await client.workflow.start('rechargeWorkflow', {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    return { workflowId };
  }

  async outcome(workflowId: string, wait: boolean): Promise<RechargeOutcome | null> {
    const client = await this.connect();
    const handle = client.workflow.getHandle(workflowId);
    if (!wait) {
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') return null;
      if (status.name !== 'COMPLETED' && status.name !== 'FAILED') return { status: 'FAILED', failure: status.name };
    }
    try {
      await handle.result();
      return { status: 'COMPLETED', failure: null };
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      const cause = error.cause;
      const code = cause instanceof ApplicationFailure && cause.type ? cause.type : (cause?.name ?? 'WORKFLOW_FAILED');
      const outcome = outcomeOfFailure(code === 'TerminatedFailure' ? 'TERMINATED' : code === 'CancelledFailure' ? 'CANCELLED' : code === 'TimeoutFailure' ? 'WORKFLOW_TIMED_OUT' : code);
      const captureId = cause instanceof ApplicationFailure ? (cause.details?.[0] as { captureId?: unknown } | undefined)?.captureId : undefined;
      return typeof captureId === 'string' ? { ...outcome, captureId } : outcome;
    }
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    await client?.connection.close();
  }
}

/** From the environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233); WALLETS_TEMPORAL=off disables card recharges. */
export function rechargeStarterFromEnv(env: NodeJS.ProcessEnv): RechargeStarter | null {
  if (env.WALLETS_TEMPORAL === 'off') return null;
  return new TemporalRechargeStarter(env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', env.TEMPORAL_NAMESPACE ?? 'default', env.TEMPORAL_TASK_QUEUE ?? RECHARGE_TASK_QUEUE);
}
