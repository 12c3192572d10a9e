// Bad input is BAD_USER_INPUT naming the field (CONVENTIONS rule 4), never a PostgreSQL error
// surfacing as INTERNAL_SERVER_ERROR: a ledger cursor wallets never issued (`after`, it was a bigint
// syntax error), a negative page size (`first`, a negative LIMIT), amounts too large for the ledger's
// NUMERIC(20,6) columns (AMOUNT_TOO_LARGE naming the amount, a numeric overflow), a recharge channel
// that is not one (a varchar overflow), a voucher in another currency than the account (naming a
// field RedeemVoucherInput has); and an auto top-up rule whose limits refuse every top-up it could ask
// for is refused naming the limit.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ LOG_LEVEL: 'fatal' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const answer = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => {
  const e = res.errors?.[0]?.extensions;
  return e ? { code: e.code, field: e.field } : 'accepted';
};

/** An account owned by a customer, who may recharge it, set its auto top-up and read its ledger. */
async function customerAccount(balance = '10.00') {
  const w = await openPrepaid(svc, { balance });
  const customer: Caller = { role: 'CUSTOMER', subject: 'pat', customerId: uniq('cus'), scopes: [] };
  await dbOf(svc).query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, now())`, [w.billingAccountId, customer.customerId]);
  return { ...w, customer };
}

describe('bad input is BAD_USER_INPUT naming the field, never INTERNAL_SERVER_ERROR', () => {
  it('paging the ledger and notifications: a cursor wallets never issued names `after`, a negative page size names `first`', async () => {
    const { billingAccountId, walletId, customer } = await customerAccount();
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['ledgerEntries after', `query($a: ID!) { ledgerEntries(billingAccountId: $a, after: "bm90LWEtY3Vyc29y") { edges { cursor } } }`, { a: billingAccountId }, 'after'],
      ['Wallet.ledgerEntries after', `query($w: ID!) { wallet(id: $w) { ledgerEntries(after: "zzzz") { edges { cursor } } } }`, { w: walletId }, 'after'],
      ['ledgerEntries after beyond bigint', `query($a: ID!, $c: String) { ledgerEntries(billingAccountId: $a, after: $c) { edges { cursor } } }`, { a: billingAccountId, c: Buffer.from('99999999999999999999999').toString('base64url') }, 'after'],
      ['balanceNotifications first -1', `query($a: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $a }]) { ... on BillingAccount { balanceNotifications(first: -1) { id } } } }`, { a: billingAccountId }, 'first'],
    ];
    const got: [string, unknown][] = [];
    for (const [label, query, vars] of cases) got.push([label, answer(await svc.request(query, vars, customer))]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([label, , , field]) => [label, { code: 'BAD_USER_INPUT', field }])));
  });

  // recharge.ts (another change): the channel is checked there.
  it('a recharge channel longer than the column (or not a known channel) names input.channel', async () => {
    const { billingAccountId, customer } = await customerAccount();
    const res = await svc.request(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, {
      i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'BANK_TRANSFER', channel: 'CUSTOMER_SERVICE_DESK_01', idempotencyKey: uniq('key') },
    }, customer);
    expect(answer(res)).toEqual({ code: 'BAD_USER_INPUT', field: 'input.channel' });
  });

  it('amounts too large for the ledger name their field (recharge, auto top-up, adjustment, voucher) and change nothing', async () => {
    const { billingAccountId, walletId, customer } = await customerAccount();
    const big = '1000000000000000'; // 10^15: fits a decimal string, not NUMERIC(20,6)
    const cases: [string, string, Record<string, unknown>, Caller | undefined, string][] = [
      ['recharge', `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, { billingAccountId, amount: { amount: big, currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') }, customer, 'input.amount.amount'],
      ['auto top-up daily limit', `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, { walletId, enabled: true, threshold: '5.00', topupAmount: '10.00', dailyLimit: big, paymentMethodToken: 'tok_visa' }, customer, 'input.dailyLimit'],
      ['adjustment', `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`, { walletId, amount: { amount: big, currency: 'EUR' }, reason: 'typo in the amount', idempotencyKey: uniq('key') }, undefined, 'input.amount.amount'],
      ['voucher', `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`, { idempotencyKey: uniq('vkey'), amount: { amount: big, currency: 'EUR' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString() }, undefined, 'input.amount.amount'],
    ];
    const got: [string, unknown][] = [];
    for (const [label, mutation, input, caller] of cases) got.push([label, answer(await svc.request(mutation, { i: input }, caller))]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([label, , , , field]) => [label, { code: 'BAD_USER_INPUT', field }])));
    expect((await gql(svc, `query($w: ID!) { wallet(id: $w) { balance { amount } autoTopup { enabled } } }`, { w: walletId })).wallet).toEqual({ balance: { amount: '10' }, autoTopup: null });
  });

  it('staff amounts too large for the ledger name their field (top-up, limits, opening limits, budget); the largest it holds is taken', async () => {
    const { billingAccountId, walletId } = await customerAccount();
    const big = '1000000000000'; // 10^12: the first amount refused (AMOUNT_TOO_LARGE)
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['topupBalance', `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { billingAccountId, amount: { amount: big, currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'test' }, 'input.amount.amount'],
      ['setWalletLimits overdraft', `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { id } } }`, { walletId, overdraftLimit: big }, 'input.overdraftLimit'],
      ['openWallet credit limit', `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { billingAccountId: uniq('acc'), currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: big }, 'input.creditLimit'],
      ['setBudget committed', `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`, { billingAccountId, committed: { amount: big, currency: 'EUR' }, threshold: '10.00' }, 'input.committed.amount'],
    ];
    const got: [string, unknown][] = [];
    for (const [label, mutation, input] of cases) got.push([label, (await svc.request(mutation, { i: input })).errors?.[0]?.extensions]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([label, , , field]) => [label, expect.objectContaining({ code: 'BAD_USER_INPUT', reason: 'AMOUNT_TOO_LARGE', field })])));
    const largest = await gql(svc, `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { balance { amount } overdraftLimit { amount } } } }`, { i: { walletId, overdraftLimit: '999999999999.99' } });
    expect(largest.setWalletLimits.wallet).toEqual({ balance: { amount: '10' }, overdraftLimit: { amount: '999999999999.99' } });
  });

  // vouchers.ts (another change): the field the currency mismatch names.
  it('a voucher in another currency than the account names a field of RedeemVoucherInput (it has no amount)', async () => {
    const { billingAccountId, customer } = await customerAccount();
    const usd = await gql(svc, `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '5.00', currency: 'USD' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    const res = await svc.request(`mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, code: usd.issueVoucher.code, idempotencyKey: uniq('key') } }, customer);
    const e = res.errors?.[0]?.extensions;
    expect({ code: e?.code, reason: e?.reason }).toEqual({ code: 'BAD_USER_INPUT', reason: 'WALLET_CURRENCY_MISMATCH' });
    expect(['input.code', 'input.billingAccountId']).toContain(e?.field);
  });

  it('an auto top-up whose limits refuse every top-up it could ask for is refused naming the limit (it could never top up)', async () => {
    const { billingAccountId, walletId, customer } = await customerAccount();
    const SET = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { autoTopup { enabled } } } }`;
    const rule = { walletId, enabled: true, threshold: '5.00', paymentMethodToken: 'tok_visa' };
    const cases: [string, Record<string, unknown>, string][] = [
      ['top-up 20, daily limit 10', { topupAmount: '20.00', dailyLimit: '10.00' }, 'input.dailyLimit'],
      ['top-up 20, monthly limit 19.99', { topupAmount: '20.00', monthlyLimit: '19.99' }, 'input.monthlyLimit'],
      // Fires below 5, so up to 25 takes more than 20: a daily limit of 20 refuses every one.
      ['up to 25 from below 5, daily limit 20', { targetBalance: '25.00', dailyLimit: '20.00' }, 'input.dailyLimit'],
    ];
    const got: [string, unknown][] = [];
    for (const [label, input] of cases) got.push([label, answer(await svc.request(SET, { i: { ...rule, ...input } }, customer))]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([label, , field]) => [label, { code: 'BAD_USER_INPUT', field }])));
    expect((await gql(svc, `query($w: ID!) { wallet(id: $w) { autoTopup { enabled } } }`, { w: walletId })).wallet.autoTopup).toBeNull();
    // A limit that allows one top-up is taken, and the rule tops up.
    expect(answer(await svc.request(SET, { i: { ...rule, topupAmount: '20.00', dailyLimit: '20.00' } }, customer))).toBe('accepted');
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) });
    expect(await dbOf(svc).query(`select status, reason from topup_request where wallet_id = $1`, [walletId])).toEqual([{ status: 'REQUESTED', reason: null }]);
  });
});
