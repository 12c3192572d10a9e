// issuePaymentReceipt (the recharge workflow's receipt, ops-only) checked only that the amount is above
// zero: an amount finer than the currency's minor units ("5.001 EUR") was issued as it came, a receipt in
// another currency than its billing account's (USD on a EUR account) was issued, and an amount or a text
// the receipt row cannot hold (1e14 and more; recharge id, payment reference, channel over their columns)
// failed the insert (INTERNAL_SERVER_ERROR, after a receipt number was drawn in the rolled-back transaction).
// Now each is refused as the rest of the payments API refuses it: BAD_USER_INPUT naming the field, nothing
// issued, no number taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_rct_chk', { paymentMode: 'PREPAID' });
  await account(h, 'acc_rct_chk_jpy', { paymentMode: 'PREPAID', currency: 'JPY' });
});
afterAll(async () => h?.svc.close());

const RECEIPT = 'mutation($i: IssuePaymentReceiptInput!) { issuePaymentReceipt(input: $i) { receipt { id number amount { amount currency } } } }';
const input = (over: Record<string, unknown>) => ({
  i: { billingAccountId: 'acc_rct_chk', rechargeId: 'rch_chk', amount: { amount: '5.00', currency: 'EUR' }, paymentReference: 'cap_chk', channel: 'CARD', idempotencyKey: `chk-${Math.random()}`, ...over },
});
const errorOf = (r: any) => ({ code: r.errors?.[0]?.extensions?.code, reason: r.errors?.[0]?.extensions?.reason, field: r.errors?.[0]?.extensions?.field });
const issued = async () => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select count(*)::int as n from receipt where billing_account_id like 'acc_rct_chk%'`))[0].n as number;

const bad = (field: string, reason: string) => ({ code: 'BAD_USER_INPUT', reason, field });

describe('issuePaymentReceipt refuses what the payments API refuses', () => {
  it.each([
    ['more decimals than EUR has', { amount: { amount: '5.001', currency: 'EUR' } }, bad('input.amount.amount', 'RECEIPT_AMOUNT_PRECISION')],
    ['decimals on a JPY account', { billingAccountId: 'acc_rct_chk_jpy', amount: { amount: '500.5', currency: 'JPY' } }, bad('input.amount.amount', 'RECEIPT_AMOUNT_PRECISION')],
    ["another currency than the account's", { amount: { amount: '5.00', currency: 'USD' } }, bad('input.amount.currency', 'RECEIPT_CURRENCY_MISMATCH')],
    ['EUR on a JPY account', { billingAccountId: 'acc_rct_chk_jpy', amount: { amount: '500', currency: 'EUR' } }, bad('input.amount.currency', 'RECEIPT_CURRENCY_MISMATCH')],
    ['an amount the numeric column cannot hold', { amount: { amount: '100000000000000', currency: 'EUR' } }, bad('input.amount.amount', 'RECEIPT_AMOUNT_INVALID')],
    ['zero', { amount: { amount: '0', currency: 'EUR' } }, bad('input.amount.amount', 'RECEIPT_AMOUNT_NOT_POSITIVE')],
    ['below zero', { amount: { amount: '-1.00', currency: 'EUR' } }, bad('input.amount.amount', 'RECEIPT_AMOUNT_NOT_POSITIVE')],
    ['a recharge id over 80 characters', { rechargeId: 'r'.repeat(81) }, bad('input.rechargeId', 'RECEIPT_RECHARGE_ID_INVALID')],
    ['a payment reference over 120 characters', { paymentReference: 'p'.repeat(121) }, bad('input.paymentReference', 'RECEIPT_PAYMENT_REFERENCE_INVALID')],
    ['a channel over 32 characters', { channel: 'C'.repeat(33) }, bad('input.channel', 'RECEIPT_CHANNEL_INVALID')],
    ['a NUL in the payment reference', { paymentReference: 'cap\u0000x' }, bad('input.paymentReference', 'RECEIPT_PAYMENT_REFERENCE_INVALID')],
  ])('refuses %s, naming the field; nothing issued', async (_what, over, expected) => {
    expect(errorOf(await h.svc.request(RECEIPT, input(over)))).toEqual(expected);
    expect(await issued()).toBe(0);
  });

  it('issues what fits, in the minor units of the currency, and takes the first number', async () => {
    const eur = (await h.gql<any>(RECEIPT, input({ amount: { amount: '99999999999999.99', currency: 'EUR' }, rechargeId: 'r'.repeat(80), paymentReference: 'p'.repeat(120), channel: 'C'.repeat(32) }))).issuePaymentReceipt.receipt;
    expect(eur.amount).toEqual({ amount: '99999999999999.99', currency: 'EUR' });
    expect(eur.number).toBe('RCT-00000001');
    const jpy = (await h.gql<any>(RECEIPT, input({ billingAccountId: 'acc_rct_chk_jpy', amount: { amount: '500', currency: 'JPY' } }))).issuePaymentReceipt.receipt;
    expect(jpy.amount).toEqual({ amount: '500', currency: 'JPY' });
    // Trailing zeros are not decimals of their own: "5.000" EUR is 5 EUR.
    const zeros = (await h.gql<any>(RECEIPT, input({ amount: { amount: '5.000', currency: 'EUR' } }))).issuePaymentReceipt.receipt;
    expect(zeros.amount).toEqual({ amount: '5', currency: 'EUR' });
    expect(await issued()).toBe(3);
  });
});
