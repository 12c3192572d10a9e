// Review 3: the same payment sent twice at once (a client retrying after a timeout while the first
// request is still running, or two replicas behind the load balancer). recordPayment looks for the
// idempotency key before it locks the invoice; both requests miss it, the second waits for the
// invoice lock and then runs into the unique index on payment.idempotency_key: an error instead of
// the first payment. The client cannot tell whether the customer's money was taken.
// Correct (CONVENTIONS rule 5: "same key + same input → same result"): both calls answer the same
// payment and the invoice is paid once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_race');
  await subscribe(h, 'acc_race', 'sub_race', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }', { i: { billingAccountId: 'acc_race', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } });
});
afterAll(async () => h?.svc.close());

describe('review3: one idempotency key, two requests at once', () => {
  it('answers both with the same payment', async () => {
    const [inv] = await invoicesOf(h, 'acc_race');
    const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
    const i = { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'race-1' };
    const results = await Promise.all(Array.from({ length: 4 }, () => h.svc.request<any>(PAY, { i })));
    const answers = results.map((r) => (r.errors?.length ? `error ${String(r.errors[0]!.extensions?.code)} ${r.errors[0]!.message.slice(0, 80)}` : r.data.recordPayment.payment.id));
    expect(new Set(answers).size, `four identical requests with key race-1 answered ${JSON.stringify(answers)}; expected the same payment id four times`).toBe(1);
    expect(answers[0]).toMatch(/^pay_/);
    const [after] = await invoicesOf(h, 'acc_race');
    expect(after.amountPaid.amount).toBe('10');
  });
});
