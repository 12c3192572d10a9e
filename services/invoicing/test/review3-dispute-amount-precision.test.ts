// Review 3: disputeInvoice accepts an amount with more decimals than the currency has ("5.005" EUR)
// and stores it as the disputed amount (ON_HOLD, dunning held on a sub-cent amount). Payments,
// refunds, credit notes and one-offs all refuse this.
// Correct (CONVENTIONS rule 4 and the brief: more than 2 decimals for EUR → a coded BAD_USER_INPUT
// naming the field, nothing changed): refused with BAD_USER_INPUT on input.amount; the invoice stays SENT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_dispute_prec');
  await subscribe(h, 'acc_dispute_prec', 'sub_dispute_prec', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }', { i: { billingAccountId: 'acc_dispute_prec', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } });
});
afterAll(async () => h?.svc.close());

describe('review3: a disputed amount with too many decimals', () => {
  it('is refused as bad input naming input.amount, and nothing changes', async () => {
    const [inv] = await invoicesOf(h, 'acc_dispute_prec');
    const r = await h.svc.request<any>('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state amountDisputed { amount } } } }', { i: { invoiceId: inv.id, amount: '5.005', reason: 'Roaming' } });
    const ext = r.errors?.[0]?.extensions ?? {};
    const [after] = await invoicesOf(h, 'acc_dispute_prec');
    expect(
      { code: ext.code, field: ext.field, state: after.state },
      `disputing 5.005 EUR answered ${JSON.stringify(r.errors ? ext : r.data)}; expected BAD_USER_INPUT on input.amount and the invoice left SENT`,
    ).toEqual({ code: 'BAD_USER_INPUT', field: 'input.amount', state: 'SENT' });
  });
});
