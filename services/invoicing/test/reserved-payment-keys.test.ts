// Invoicing pays with keys of its own: `autopay:<invoiceId>` on the due date, `account-credit:<invoiceId>`
// when an invoice is issued. A caller that took one of them first (eleventh session's review) made
// that payment answer the caller's: the autopay never charged, the credit never applied. Such keys
// are refused from callers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_reserved_keys');
  await subscribe(h, 'acc_reserved_keys', 'sub_reserved_keys', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }', { i: { billingAccountId: 'acc_reserved_keys', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';

describe("invoicing's own payment keys", () => {
  it.each(['autopay:', 'account-credit:'])('a caller key starting with %s is refused and pays nothing', async (prefix) => {
    const [inv] = await invoicesOf(h, 'acc_reserved_keys');
    const r = await h.svc.request<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: `${prefix}${inv.id}` } });
    expect(r.errors?.[0]?.extensions, JSON.stringify(r)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idempotencyKey', reason: 'IDEMPOTENCY_KEY_RESERVED' });
    const [after] = await invoicesOf(h, 'acc_reserved_keys');
    expect(after.amountPaid.amount).toMatch(/^0(\.0+)?$/);
  });
});
