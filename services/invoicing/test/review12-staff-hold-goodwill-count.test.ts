// Review 12: the auto-assessment's `acceptedDisputesLast365Days` (the customer's history of upheld
// claims: a first late fee is waived only at 0, small goodwill only at ≤ 1) counted staff holds
// (disputeInvoice) that staff accepted or that regenerating a draft closed ACCEPTED without any
// credit. Two holds staff put on the customer's invoice and decided themselves sent the customer's
// own first small dispute to review. Staff decide what staff opened; it is not the customer's history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, SYSTEM, agent, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-r12');
const D = 'id status decidedBy assessment';
const { OPEN, DECIDE, ASSESS } = disputeMutations(D);
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id disputes { id status } } } }';

const { as } = disputeCalls(() => h);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('review 12: staff holds are not the customer\'s accepted disputes', () => {
  it('two staff holds accepted by staff leave the customer\'s small dispute to the goodwill rule', async () => {
    await account(h, 'acc_r12_gw', { customerId: 'cus_r12_gw' });
    await subscribe(h, 'acc_r12_gw', 'sub_r12_gw', 'postpaid20', '2026-08-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', {
      i: { billingAccountId: 'acc_r12_gw', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const invoiceId = r.closeBillingPeriod.billingPeriod.invoice.id;
    for (const n of [1, 2]) {
      const held = (await as(AGENT, HOLD, { i: { invoiceId, amount: '2.00', reason: `Staff check ${n}` } })).disputeInvoice.invoice;
      const open = held.disputes.find((d: any) => d.status === 'OPEN');
      expect((await as(AGENT, DECIDE, { i: { disputeId: open.id, decision: 'ACCEPT', note: 'Corrected' } })).decideDispute.dispute.status).toBe('ACCEPTED');
    }
    const mine = (await as(customer('cus_r12_gw'), OPEN, { i: { invoiceId, amount: '2.00', reason: 'Roaming', idempotencyKey: 'r12-gw' } })).openDispute.dispute;
    const assessed = (await as(SYSTEM, ASSESS, { i: { disputeId: mine.id } })).assessDispute.dispute;
    expect(assessed.assessment.facts.acceptedDisputesLast365Days).toBe(0);
    expect(assessed).toMatchObject({ status: 'ACCEPTED', decidedBy: 'auto:small-goodwill' });
  });
});
