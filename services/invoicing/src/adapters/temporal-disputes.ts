// Starts and signals the dispute resolution workflow on Temporal, as TemporalDunningStarter does for
// dunning. The connection is made on first use, so the service starts while Temporal is down; the
// due-date job starts the disputes whose workflow never started.
import type { Client } from '@temporalio/client';
import { lazyTemporalClient, type TemporalClientOptions } from './temporal-client';
import { disputeWorkflowId, type DisputeStarter, type StartDisputeRequest } from '../ports/disputes';

export class TemporalDisputeStarter implements DisputeStarter {
  private readonly connect: () => Promise<Client>;

  /** `client`: an existing connection (tests on Temporal's test server), else `address`. */
  constructor(private readonly options: TemporalClientOptions) {
    this.connect = lazyTemporalClient(options);
  }

  async start(req: StartDisputeRequest): Promise<void> {
    const client = await this.connect();
    const { WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
    try {
      await client.workflow.start('disputeResolutionWorkflow', {
        workflowId: disputeWorkflowId(req.disputeId),
        taskQueue: this.options.taskQueue ?? 'ledgerline',
        args: [{ disputeId: req.disputeId, policy: req.policy }],
        // One run per dispute, ever: a second start joins the running one or is refused.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  async poke(disputeId: string): Promise<void> {
    const client = await this.connect();
    await client.workflow.getHandle(disputeWorkflowId(disputeId)).signal('disputeDecided');
  }
}
