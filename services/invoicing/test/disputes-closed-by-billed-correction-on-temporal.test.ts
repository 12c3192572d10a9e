// A customer's dispute of a rated usage record, with its real disputeResolutionWorkflow on Temporal's
// time-skipping test server, waiting in review. Operations re-rate the record: its correction (an
// adjustment charge with usageRecordId) closes the dispute when it is billed (review 19). Whatever
// path bills it — the service's own bill-run runner, a regenerated draft, closeBillingPeriod — the
// workflow is signalled once the bill commits and completes at once, without waiting for its SLA
// deadline (before: only closeBillingPeriod and the processBillRunBatch mutation signalled it; the
// runner and regenerateInvoice did not, and the workflow found the dispute ACCEPTED hours later).
// The test never awaits a workflow result, so Temporal's time does not skip: a workflow that is not
// signalled stays RUNNING.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Caller } from '@ledgerline/contracts';
import { uniqueId } from '../../../workflows/test/support/env';
import { startDisputesOnTemporal, type DisputesOnTemporal } from './dispute-workflow-on-temporal';
import { account, charges, subscribe, type Harness } from './support';
import { until } from './dunning-on-temporal';

let t: DisputesOnTemporal;
let env: TestWorkflowEnvironment;
let h: Harness;
const status = (workflowId: string) => t.status(workflowId);

beforeAll(async () => {
  t = await startDisputesOnTemporal('dispute-rerate', '2026-10-01T08:00:00Z', { runBillRuns: true });
  ({ env, h } = t);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const usage = (acc: string, chargeId: string, amount: string, units: string) => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z',
});

/** An account of `billCycleDay` with September billed (a roaming record), the record disputed in full and its workflow in review. */
async function disputedRecord(tag: string, billCycleDay: number): Promise<{ acc: string; record: string; disputeId: string }> {
  h.clock.set(new Date('2026-10-01T08:00:00Z'));
  const acc = uniqueId(`acc_dcb_${tag}`);
  const cus = `cus_${acc}`;
  const record = `usg_${acc}`;
  await account(h, acc, { customerId: cus, billCycleDay });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z', `lin_sub_${acc}`);
  await charges(h, [usage(acc, record, '10.00', '100')]);
  const sep = (await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  })).closeBillingPeriod.billingPeriod.invoice;
  const customer: Caller = { role: 'CUSTOMER', subject: cus, customerId: cus, scopes: [] };
  const r = await h.svc.request<any>('mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id } } }', { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'I was at home', idempotencyKey: `dcb-${acc}` } }, customer);
  expect(r.errors).toBeUndefined();
  const disputeId = r.data.openDispute.dispute.id;
  await until(async () => (await h.gql<any>('query($id: ID!) { dispute(id: $id) { status } }', { id: disputeId })).dispute.status === 'IN_REVIEW', 'the workflow to assess the dispute');
  expect(await status(`dispute-${disputeId}`)).toBe('RUNNING');
  return { acc, record, disputeId };
}

const disputeStatus = async (id: string) => (await h.gql<any>('query($id: ID!) { dispute(id: $id) { status } }', { id })).dispute.status;

describe('a dispute closed by a billed re-rate correction: its workflow is told at once, whatever bills it', () => {
  it("the service's own bill-run runner bills the correction: the workflow completes ACCEPTED without waiting for its SLA", async () => {
    const { acc, record, disputeId } = await disputedRecord('run', 27);
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-10.00', '0'), usageRecordId: record }]);
    h.clock.set(new Date('2026-10-28T08:00:00Z'));
    await h.gql('mutation { startBillRun(input: { cycleDate: "2026-10-27", driver: SERVICE }) { started } }');
    await until(async () => (await disputeStatus(disputeId)) === 'ACCEPTED', 'the runner to bill the correction');
    await until(async () => (await status(`dispute-${disputeId}`)) === 'COMPLETED', 'the dispute workflow to complete', 10_000);
    expect(await env.client.workflow.getHandle(`dispute-${disputeId}`).query('disputeStatusQuery')).toMatchObject({ phase: 'DONE', outcome: 'ACCEPTED' });
  }, 120_000);

  it('a regenerated draft bills the correction: the workflow completes ACCEPTED without waiting for its SLA', async () => {
    const { acc, record, disputeId } = await disputedRecord('regen', 26);
    // October billed as a draft (not issued) before the correction arrives.
    h.clock.set(new Date('2026-10-27T08:00:00Z'));
    await h.gql('mutation { startBillRun(input: { cycleDate: "2026-10-26", driver: SERVICE, autoIssue: false }) { started } }');
    let draft: { id: string; state: string } | undefined;
    await until(async () => {
      const invs = (await h.gql<any>('query($id: ID!) { invoices(billingAccountId: $id, first: 10) { edges { node { id state } } } }', { id: acc })).invoices.edges.map((e: any) => e.node);
      draft = invs.find((i: any) => i.state === 'NEW');
      return draft != null;
    }, 'the bill run to make the October draft');
    expect(await disputeStatus(disputeId)).toBe('IN_REVIEW');
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-10.00', '0'), usageRecordId: record }]);
    await h.gql('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft!.id } });
    expect(await disputeStatus(disputeId)).toBe('ACCEPTED');
    await until(async () => (await status(`dispute-${disputeId}`)) === 'COMPLETED', 'the dispute workflow to complete', 10_000);
  }, 120_000);
});
