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
        workflowId: disputeWorkflowId(req.disputeId, req.run),
        taskQueue: this.options.taskQueue ?? 'ledgerline',
        args: [{ disputeId: req.disputeId, policy: req.policy }],
        // One start per run id, ever: a second start joins the running one or is refused. A later run
        // of the same dispute has an id of its own (disputeWorkflowId).
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  async running(disputeId: string, run: number): Promise<boolean> {
    const client = await this.connect();
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    try {
      // The id's latest run: a run continued as new is followed to the one now running.
      return (await client.workflow.getHandle(disputeWorkflowId(disputeId, run)).describe()).status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  async poke(disputeId: string, run = 1): Promise<void> {
    const client = await this.connect();
    await client.workflow.getHandle(disputeWorkflowId(disputeId, run)).signal('disputeDecided');
  }
}
