// Operators see disputes waiting for an agent past their deadline on /metrics (docs/operations.md,
// alert LedgerlineDisputesOverdue): open disputes by status, and those IN_REVIEW past reviewDueAt,
// read at each scrape by the service's clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-ana');
const { OPEN, DECIDE } = disputeMutations('id status');
const { ASSESS } = disputeMutations('id status reviewDueAt');

const { as } = disputeCalls(() => h);

async function issuedInvoice(acc: string, cus: string): Promise<string> {
  return (await closedSeptember(h, acc, cus)).id;
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
