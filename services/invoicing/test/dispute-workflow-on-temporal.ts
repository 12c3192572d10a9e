// The real disputeResolutionWorkflow on Temporal's time-skipping test server, beside an invoicing
// harness whose disputes start it: shared by the dispute tests that need the workflow itself.
// The worker's activities call the harness's GraphQL (decide is not expected in these tests).
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import { createDisputeActivities } from '../../../workflows/src/activities/disputes';
import { createTimeSkippingEnv, uniqueId } from '../../../workflows/test/support/env';
import { TemporalDisputeStarter } from '../src/adapters/temporal-disputes';
import { startHarness, type Harness } from './support';

export interface DisputesOnTemporal {
  env: TestWorkflowEnvironment;
  h: Harness;
  /** A workflow's status name (RUNNING, COMPLETED, TERMINATED, ...), NOT_FOUND when there is none. */
  status(workflowId: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startDisputesOnTemporal(name: string, at: string, harness: { runBillRuns: boolean }): Promise<DisputesOnTemporal> {
  const env = await createTimeSkippingEnv();
  const taskQueue = uniqueId(name);
  const h = await startHarness(at, { consume: false, runBillRuns: harness.runBillRuns, disputes: new TemporalDisputeStarter({ client: env.client, taskQueue }) });
  const view = (d: { status: string; escalationLevel: number }) => ({ status: d.status, escalationLevel: d.escalationLevel }) as any;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../../../workflows/src/workflows/dispute-resolution.ts', import.meta.url)), logger: new DefaultLogger('WARN') }),
    activities: createDisputeActivities({
      disputes: {
        assess: async ({ disputeId }) => view((await h.gql<any>('mutation($id: ID!) { assessDispute(input: { disputeId: $id }) { dispute { status escalationLevel } } }', { id: disputeId })).assessDispute.dispute),
        state: async ({ disputeId }) => view((await h.gql<any>('query($id: ID!) { dispute(id: $id) { status escalationLevel } }', { id: disputeId })).dispute),
        escalate: async ({ disputeId, level }) => view((await h.gql<any>('mutation($id: ID!, $l: Int!) { escalateDispute(input: { disputeId: $id, level: $l }) { dispute { status escalationLevel } } }', { id: disputeId, l: level })).escalateDispute.dispute),
        decide: async () => {
          throw new Error('not expected in this test');
        },
      },
    }),
    shutdownGraceTime: '1 second',
  });
  const running = worker.run();
  return {
    env,
    h,
    async status(workflowId) {
      try {
        return (await env.client.workflow.getHandle(workflowId).describe()).status.name;
      } catch {
        return 'NOT_FOUND';
      }
    },
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await h.svc.close();
      await env.teardown();
    },
  };
}
