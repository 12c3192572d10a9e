// Review 10: when invoicing refused the workflow's final-breach ACCEPT (a decision, not an outage:
// e.g. BAD_USER_INPUT DISPUTE_CREDIT_EXCEEDS_CREDITABLE because staff credited the disputed line with
// a separate credit note meanwhile), the activity failed non-retryably and the whole workflow failed:
// the dispute stayed IN_REVIEW, holding its invoice, with no deadline and no one told to decide it.
// Now the workflow keeps waiting for an agent (as with onFinalBreach WAIT) and ends at their decision.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '../src/errors';
import { createDisputeActivities, InMemoryDisputes, type DecideDisputeRequest, type DisputeRef, type DisputesPort, type EscalateDisputeRequest } from '../src/activities/disputes';
import { disputeResolutionWorkflowId } from '../src/domain/dispute-resolution';
import { disputeDecidedSignal, type disputeResolutionWorkflow } from '../src/workflows/dispute-resolution';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

const HOUR = 3_600_000;

/** Invoicing that refuses the automatic ACCEPT, as the GraphQL client reports a BAD_USER_INPUT. */
class RefusingDisputes implements DisputesPort {
  readonly store = new InMemoryDisputes();
  readonly ops: string[] = [];
  assess(req: DisputeRef) {
    this.ops.push('assess');
    return this.store.assess(req);
  }
  state(req: DisputeRef) {
    this.ops.push('state');
    return this.store.state(req);
  }
  escalate(req: EscalateDisputeRequest) {
    this.ops.push('escalate');
    return this.store.escalate(req);
  }
  async decide(_req: DecideDisputeRequest): Promise<never> {
    this.ops.push('decide');
    throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Only 3.00 EUR of the line can still be credited', { details: { extensions: { code: 'BAD_USER_INPUT', reason: 'DISPUTE_CREDIT_EXCEEDS_CREDITABLE', field: 'input.amount' } } });
  }
}

it('a final-breach ACCEPT that invoicing refuses leaves the workflow waiting for an agent, not failed', async () => {
  const disputes = new RefusingDisputes();
  const disputeId = uniqueId('dsp');
  disputes.store.open(disputeId);
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities: createDisputeActivities({ disputes }, { callTimeoutMs: 5_000 }),
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  const handle = await env.client.workflow.start<typeof disputeResolutionWorkflow>('disputeResolutionWorkflow', {
    workflowId: disputeResolutionWorkflowId(disputeId),
    taskQueue,
    args: [{ disputeId }],
  });
  const result = await worker.runUntil(async () => {
    const until = Date.now() + 60_000;
    while (!disputes.ops.includes('decide') && Date.now() < until) await env.sleep(12 * HOUR);
    await env.sleep(HOUR);
    expect((await handle.describe()).status.name, 'still running, waiting for an agent').toBe('RUNNING');
    disputes.store.close(disputeId, 'ACCEPT', 'agent:dee', 'partly upheld by hand');
    await handle.signal(disputeDecidedSignal);
    return handle.result();
  });
  expect(result).toEqual({ phase: 'DONE', escalationLevel: 2, outcome: 'ACCEPTED' });
  expect(disputes.ops.filter((op) => op === 'decide')).toHaveLength(1);
});
