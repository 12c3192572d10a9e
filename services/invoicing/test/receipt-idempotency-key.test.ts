// issuePaymentReceipt (the recharge workflow's receipt, ops-only) did not check its idempotency key:
// "" or "   " issued a numbered receipt under a key no caller means (the next receipt keyed so replayed
// it or was IDEMPOTENCY_KEY_REUSED), and a key over 200 characters failed the receipt's insert
// (INTERNAL_SERVER_ERROR). Now it takes the key rule of the other money mutations (checkPaymentKey):
// BAD_USER_INPUT on input.idempotencyKey, nothing written, no receipt number taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_rct_key', { paymentMode: 'PREPAID' });
});
afterAll(async () => h?.svc.close());

const RECEIPT = 'mutation($i: IssuePaymentReceiptInput!) { issuePaymentReceipt(input: $i) { receipt { id number } } }';
const receipt = (key: string) => ({ i: { billingAccountId: 'acc_rct_key', rechargeId: 'rch_1', amount: { amount: '5.00', currency: 'EUR' }, paymentReference: 'cap_1', channel: 'CARD', idempotencyKey: key } });
const errorOf = (r: any) => ({ code: r.errors?.[0]?.extensions?.code, reason: r.errors?.[0]?.extensions?.reason, field: r.errors?.[0]?.extensions?.field });
const receipts = async () => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select number from receipt where billing_account_id = 'acc_rct_key'`)).map((r: any) => r.number);

describe('issuePaymentReceipt idempotency key', () => {
  it('refuses a blank key and one the receipt cannot hold, naming the field; nothing issued', async () => {
    const missing = { code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_MISSING', field: 'input.idempotencyKey' };
    expect(errorOf(await h.svc.request(RECEIPT, receipt('')))).toEqual(missing);
    expect(errorOf(await h.svc.request(RECEIPT, receipt('   ')))).toEqual(missing);
    expect(errorOf(await h.svc.request(RECEIPT, receipt('k'.repeat(201))))).toEqual({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect(await receipts()).toEqual([]);
    // The first receipt issued takes the first number: none was taken by the refused ones.
    const first = (await h.gql<any>(RECEIPT, receipt('rch_1:issueReceipt'))).issuePaymentReceipt.receipt;
    expect(first.number).toBe('RCT-00000001');
    expect(await receipts()).toEqual(['RCT-00000001']);
  });
});
