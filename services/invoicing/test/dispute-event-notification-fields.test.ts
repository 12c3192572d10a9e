// What subscribers needs to tell the customer about their dispute (services/subscribers,
// dispute-notifications.test.ts): dispute.opened carries the invoice's number, dispute.resolved the
// invoice's number and the decision's note (optional fields, added 2026-11-27).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { agent, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-ana');
const { OPEN, DECIDE, WITHDRAW } = disputeMutations('id status');

const { as, outbox } = disputeCalls(() => h);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('dispute events carry what the customer is told', () => {
  it('opened: the invoice number; resolved: the invoice number and the decision note (none for a withdrawal)', async () => {
    await account(h, 'acc_dsp_fields', { customerId: 'cus_dsp_fields' });
    await subscribe(h, 'acc_dsp_fields', 'sub_dsp_fields', 'postpaid20', '2026-08-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number } } } }', {
      i: { billingAccountId: 'acc_dsp_fields', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const inv = r.closeBillingPeriod.billingPeriod.invoice;
    expect(inv.number).toBeTruthy();
    const c = customer('cus_dsp_fields');
    const a = (await as(c, OPEN, { i: { invoiceId: inv.id, amount: '10.00', reason: 'Roaming I did not make', idempotencyKey: 'f-a' } })).openDispute.dispute;
    const b = (await as(c, OPEN, { i: { invoiceId: inv.id, amount: '6.00', reason: 'Fee charged twice', idempotencyKey: 'f-b' } })).openDispute.dispute;
    const [opened] = (await outbox('billing.invoicing.dispute.opened')).filter((e: any) => e.data.disputeId === a.id);
    expect(opened.data).toMatchObject({ disputeId: a.id, invoiceNumber: inv.number, amount: '10.00', currency: 'EUR' });

    await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'REJECT', note: 'The sessions are in the usage records' } });
    await as(c, WITHDRAW, { i: { disputeId: b.id } });
    const resolved = await outbox('billing.invoicing.dispute.resolved');
    expect(resolved.find((e: any) => e.data.disputeId === a.id).data).toMatchObject({ status: 'REJECTED', invoiceNumber: inv.number, decisionNote: 'The sessions are in the usage records' });
    expect(resolved.find((e: any) => e.data.disputeId === b.id).data).toMatchObject({ status: 'WITHDRAWN', invoiceNumber: inv.number, decisionNote: null });
    // Unpaid and disputed, it was on hold: the state it is released to (SENT), so the customer is told the amount is due again.
    expect(resolved.find((e: any) => e.data.disputeId === a.id).data.invoiceState).toBe('SENT');
  });

  it('resolved carries the invoice state before the decision\'s credit: SETTLED when it had been paid', async () => {
    await account(h, 'acc_dsp_paid', { customerId: 'cus_dsp_paid' });
    await subscribe(h, 'acc_dsp_paid', 'sub_dsp_paid', 'postpaid20', '2026-08-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number total { amount currency } } } } }', {
      i: { billingAccountId: 'acc_dsp_paid', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const inv = r.closeBillingPeriod.billingPeriod.invoice;
    const paid = await h.gql<any>('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }', {
      i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: inv.total, idempotencyKey: 'f-paid' },
    });
    expect(paid.recordPayment.invoice.state).toBe('SETTLED');
    const c = customer('cus_dsp_paid');
    const up = (await as(c, OPEN, { i: { invoiceId: inv.id, amount: '4.00', reason: 'Charged a fee I was told was waived', idempotencyKey: 'f-up' } })).openDispute.dispute;
    const back = (await as(c, OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'A call I did not make', idempotencyKey: 'f-back' } })).openDispute.dispute;
    await as(AGENT, DECIDE, { i: { disputeId: up.id, decision: 'ACCEPT', note: 'The fee was waived' } });
    await as(c, WITHDRAW, { i: { disputeId: back.id } });
    const resolved = await outbox('billing.invoicing.dispute.resolved');
    expect(resolved.find((e: any) => e.data.disputeId === up.id).data).toMatchObject({ status: 'ACCEPTED', creditedAmount: '4.00', invoiceState: 'SETTLED' });
    expect(resolved.find((e: any) => e.data.disputeId === back.id).data).toMatchObject({ status: 'WITHDRAWN', invoiceState: 'SETTLED' });
  });
});
