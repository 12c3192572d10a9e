// A dispute whose workflow was terminated (an operator, a misconfigured worker) while it was still
// open, on Temporal's time-skipping test server with the real disputeResolutionWorkflow
// (workflows/src/workflows/dispute-resolution.ts): the due-date pass an hour later sees the run has
// ended and starts run 2, `dispute-<id>-2`, which takes the dispute up again (assessed already:
// answered as stored); withdrawing the dispute pokes run 2, which then completes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import type { Caller } from '@ledgerline/contracts';
import { createDisputeActivities } from '../../../workflows/src/activities/disputes';
import { createTimeSkippingEnv, uniqueId } from '../../../workflows/test/support/env';
import { TemporalDisputeStarter } from '../src/adapters/temporal-disputes';
import { account, startHarness, subscribe, type Harness } from './support';
import { until } from './dunning-on-temporal';

let env: TestWorkflowEnvironment;
let h: Harness;
let worker: Worker;
let running: Promise<void>;

const view = (d: { status: string; escalationLevel: number }) => ({ status: d.status, escalationLevel: d.escalationLevel }) as any;
const status = async (workflowId: string): Promise<string> => {
  try {
    return (await env.client.workflow.getHandle(workflowId).describe()).status.name;
  } catch {
    return 'NOT_FOUND';
  }
};

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  const taskQueue = uniqueId('dispute-restart');
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: new TemporalDisputeStarter({ client: env.client, taskQueue }) });
  worker = await Worker.create({
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
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await h?.svc.close();
  await env?.teardown();
});

it('a terminated run is followed by run 2 at the next pass an hour on; withdrawing pokes run 2, which completes', async () => {
  const customer: Caller = { role: 'CUSTOMER', subject: 'cus_dwr', customerId: 'cus_dwr', scopes: [] };
  await account(h, 'acc_dwr', { customerId: 'cus_dwr' });
  await subscribe(h, 'acc_dwr', 'sub_dwr', 'postpaid20', '2026-08-01T00:00:00Z');
  const inv = (await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', { i: { billingAccountId: 'acc_dwr', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } }))
    .closeBillingPeriod.billingPeriod.invoice;
  const r = await h.svc.request<any>('mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id } } }', { i: { invoiceId: inv.id, amount: '20.00', reason: 'Too much', idempotencyKey: 'dwr-1' } }, customer);
  expect(r.errors).toBeUndefined();
  const id = r.data.openDispute.dispute.id;
  const dispute = async () => (await h.gql<any>('query($id: ID!) { dispute(id: $id) { status } }', { id })).dispute.status;
  await until(async () => (await dispute()) === 'IN_REVIEW', 'run 1 to assess the dispute');
  expect(await status(`dispute-${id}`)).toBe('RUNNING');

  await env.client.workflow.getHandle(`dispute-${id}`).terminate('operator: wrong worker');
  expect(await status(`dispute-${id}`)).toBe('TERMINATED');
  await h.gql('mutation { runDueDateJob { autopaid } }');
  expect(await status(`dispute-${id}-2`)).toBe('NOT_FOUND'); // started just now: not looked at yet

  h.clock.advance(2 * 3_600_000);
  await h.gql('mutation { runDueDateJob { autopaid } }');
  expect(await status(`dispute-${id}-2`)).toBe('RUNNING');
  await h.gql('mutation { runDueDateJob { autopaid } }'); // once
  expect(await status(`dispute-${id}-3`)).toBe('NOT_FOUND');

  const w = await h.svc.request<any>('mutation($i: WithdrawDisputeInput!) { withdrawDispute(input: $i) { dispute { status } } }', { i: { disputeId: id } }, customer);
  expect(w.errors).toBeUndefined();
  const result = await env.client.workflow.getHandle(`dispute-${id}-2`).result();
  expect(result).toMatchObject({ phase: 'DONE', outcome: 'WITHDRAWN' });
}, 120_000);
