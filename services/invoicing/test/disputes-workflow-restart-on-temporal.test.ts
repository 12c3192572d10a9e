// A dispute whose workflow was terminated (an operator, a misconfigured worker) while it was still
// open, on Temporal's time-skipping test server with the real disputeResolutionWorkflow
// (workflows/src/workflows/dispute-resolution.ts): the due-date pass an hour later sees the run has
// ended and starts run 2, `dispute-<id>-2`, which takes the dispute up again (assessed already:
// answered as stored); withdrawing the dispute pokes run 2, which then completes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Caller } from '@ledgerline/contracts';
import { startDisputesOnTemporal, type DisputesOnTemporal } from './dispute-workflow-on-temporal';
import { account, subscribe, type Harness } from './support';
import { until } from './dunning-on-temporal';

let t: DisputesOnTemporal;
let env: TestWorkflowEnvironment;
let h: Harness;
const status = (workflowId: string) => t.status(workflowId);

beforeAll(async () => {
  t = await startDisputesOnTemporal('dispute-restart', '2026-10-01T08:00:00Z', { runBillRuns: false });
  ({ env, h } = t);
}, 120_000);

afterAll(async () => {
  await t?.stop();
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
