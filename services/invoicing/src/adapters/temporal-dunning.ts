// Starts and signals the dunning workflow on Temporal. The connection is made on first use, so
// the service starts (and bills) while Temporal is down; the due-date job simply tries again.
import type { Client } from '@temporalio/client';
import { dunningWorkflowId, type DunningStarter, type StartDunningRequest } from '../ports/dunning';

export class TemporalDunningStarter implements DunningStarter {
  private client: Promise<Client> | null = null;

  constructor(private readonly options: { address: string; namespace?: string; taskQueue?: string }) {}

  private async connect(): Promise<Client> {
    this.client ??= (async () => {
      const { Client, Connection } = await import('@temporalio/client');
      const connection = await Connection.connect({ address: this.options.address });
      return new Client({ connection, namespace: this.options.namespace ?? 'default' });
    })().catch((error) => {
      this.client = null;
      throw error;
    });
    return this.client;
  }

  async start(req: StartDunningRequest): Promise<void> {
    const client = await this.connect();
    const { WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
    try {
      await client.workflow.start('dunningWorkflow', {
        workflowId: dunningWorkflowId(req.invoiceId),
        taskQueue: this.options.taskQueue ?? 'ledgerline',
        args: [req],
        // One dunning per invoice, ever: a second start joins the running one or is refused.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  async poke(invoiceId: string, what: 'paymentRecorded' | 'disputeChanged'): Promise<void> {
    const client = await this.connect();
    await client.workflow.getHandle(dunningWorkflowId(invoiceId)).signal(what);
  }
}
