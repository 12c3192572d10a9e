import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { DomainError } from '@ledgerline/contracts';

/** What the recharge workflow (workflows/src/domain/recharge.ts RechargeInput) takes. */
export interface RechargeWorkflowInput {
  rechargeId: string;
  billingAccountId: string;
  amount: string;
  currency: string;
  paymentMethodToken: string;
  channel: string;
}

/** Starts the Recharge workflow; one recharge id is one workflow, ever. */
export interface RechargeStarter {
  start(input: RechargeWorkflowInput): Promise<{ workflowId: string }>;
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
        throw rechargeUnavailable(`cannot reach Temporal at ${this.address} (${error.message})`);
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
