// Starts and signals the dunning workflow on Temporal. The connection is made on first use, so
// the service starts (and bills) while Temporal is down; the due-date job simply tries again.
import type { Client } from '@temporalio/client';
import { lazyTemporalClient, type TemporalClientOptions } from './temporal-client';
import { dunningWorkflowId, type DunningStarter, type StartDunningRequest } from '../ports/dunning';

export class TemporalDunningStarter implements DunningStarter {
  private readonly connect: () => Promise<Client>;

  /** `client`: an existing connection (tests on Temporal's test server), else `address`. */
  constructor(private readonly options: TemporalClientOptions) {
    this.connect = lazyTemporalClient(options);
  }

  async start(req: StartDunningRequest): Promise<number> {
    const client = await this.connect();
    const { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } = await import('@temporalio/client');
    const { run = 1, ...input } = req;
    if (run > 1) {
      // A refund reopened the invoice before its previous dunning noticed the payment: that one goes
      // on (it sees the invoice owe again), told to look now, rather than two dunning it at once.
      const previous = client.workflow.getHandle(dunningWorkflowId(req.invoiceId, run - 1));
      try {
        if ((await previous.describe()).status.name === 'RUNNING') {
          await previous.signal('paymentRecorded');
          return run - 1;
        }
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }
    try {
      await client.workflow.start('dunningWorkflow', {
        workflowId: dunningWorkflowId(req.invoiceId, run),
        taskQueue: this.options.taskQueue ?? 'ledgerline',
        args: [input],
        // One run per id, ever: a second start joins the running one or is refused. A later dunning
        // of the same invoice has an id of its own (dunningWorkflowId).
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    return run;
  }

  async poke(invoiceId: string, what: 'paymentRecorded' | 'disputeChanged', run = 1): Promise<void> {
    const client = await this.connect();
    await client.workflow.getHandle(dunningWorkflowId(invoiceId, run)).signal(what);
  }
}
