// Operators see disputes waiting for an agent past their deadline on /metrics (docs/operations.md,
// alert LedgerlineDisputesOverdue): open disputes by status, and those IN_REVIEW past reviewDueAt,
// read at each scrape by the service's clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { scrapeMetrics } from '@ledgerline/platform';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const customer = (customerId: string): Caller => ({ role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });
const AGENT: Caller = { role: 'AGENT', subject: 'agent-ana', scopes: [] };
const OPEN = `mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id status } } }`;
const ASSESS = `mutation($i: AssessDisputeInput!) { assessDispute(input: $i) { dispute { id status reviewDueAt } } }`;
const DECIDE = `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { id status } } }`;

async function as<T = any>(caller: Caller, query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await h.svc.request<T>(query, variables, caller);
  if (r.errors?.length) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data!;
}

async function issuedInvoice(acc: string, cus: string): Promise<string> {
  await account(h, acc, { customerId: cus });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  return r.closeBillingPeriod.billingPeriod.invoice.id;
}

const disputeGauges = async () => {
  const m = await scrapeMetrics(h.svc);
  return { open: m['ledgerline_invoicing_disputes_open{status="OPEN"}'], inReview: m['ledgerline_invoicing_disputes_open{status="IN_REVIEW"}'], overdue: m.ledgerline_invoicing_disputes_overdue };
};

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('dispute gauges on /metrics', () => {
  it('counts open disputes by status, and one IN_REVIEW past its reviewDueAt as overdue until it is decided', async () => {
    expect(await disputeGauges()).toEqual({ open: 0, inReview: 0, overdue: 0 });
    const invA = await issuedInvoice('acc_dsp_metric_a', 'cus_dsp_metric_a');
    const invB = await issuedInvoice('acc_dsp_metric_b', 'cus_dsp_metric_b');
    const a = (await as(customer('cus_dsp_metric_a'), OPEN, { i: { invoiceId: invA, amount: '20.00', reason: 'Roaming charges I did not make', idempotencyKey: 'm-a' } })).openDispute.dispute;
    await as(customer('cus_dsp_metric_b'), OPEN, { i: { invoiceId: invB, amount: '15.00', reason: 'Wrong plan fee', idempotencyKey: 'm-b' } });
    expect((await h.gql<any>(ASSESS, { i: { disputeId: a.id } })).assessDispute.dispute).toMatchObject({ status: 'IN_REVIEW', reviewDueAt: '2026-10-03T08:00:00.000Z' });
    expect(await disputeGauges()).toEqual({ open: 1, inReview: 1, overdue: 0 });

    h.clock.advance(47 * 3_600_000);
    expect((await disputeGauges()).overdue).toBe(0);
    h.clock.advance(2 * 3_600_000); // past reviewDueAt, and nobody (no workflow here) escalated or decided it
    expect(await disputeGauges()).toEqual({ open: 1, inReview: 1, overdue: 1 });

    await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'REJECT', note: 'The roaming sessions are in the usage records' } });
    expect(await disputeGauges()).toEqual({ open: 1, inReview: 0, overdue: 0 });
  });
});
