// Money a person enters (found in review, tenth session): every money input took 6 decimal places
// whatever the currency, so a card recharge of 10.123 USD or a top-up of 5.5 JPY was accepted, and an
// auto top-up "up to" a target asked the card for the sub-cent difference a rated charge had left.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const OPEN = `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`;
const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`;
const AUTO_TOPUP = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`;
const BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`;
const LIMITS = `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { id } } }`;

async function openJpy() {
  const billingAccountId = uniq('acc');
  const walletId = (await gql(svc, OPEN, { i: { billingAccountId, currency: 'JPY', paymentMode: 'PREPAID' } })).openWallet.wallet.id as string;
  return { billingAccountId, walletId };
}

describe('money a person enters has at most the currency\'s minor unit', () => {
  it('every money input refuses more decimal places than its currency has (AMOUNT_PRECISION, naming the field) and changes nothing', async () => {
    const eur = await openPrepaid(svc, { balance: '10.00' });
    const jpy = await openJpy();
    // Budgets on wallets of their own (an auto top-up rule on the others would be refused first).
    const [eurBudget, jpyBudget] = [await openPrepaid(svc), await openJpy()];
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const key = () => uniq('key');
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['topup EUR', TOPUP, { billingAccountId: eur.billingAccountId, amount: { amount: '10.123', currency: 'EUR' }, idempotencyKey: key() }, 'input.amount.amount'],
      ['topup JPY', TOPUP, { billingAccountId: jpy.billingAccountId, amount: { amount: '5.5', currency: 'JPY' }, idempotencyKey: key() }, 'input.amount.amount'],
      ['card recharge', RECHARGE, { billingAccountId: eur.billingAccountId, amount: { amount: '10.123', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'tok_visa', idempotencyKey: key() }, 'input.amount.amount'],
      ['bank transfer', RECHARGE, { billingAccountId: jpy.billingAccountId, amount: { amount: '1000.5', currency: 'JPY' }, method: 'BANK_TRANSFER', idempotencyKey: key() }, 'input.amount.amount'],
      ['adjustment', ADJUST, { walletId: eur.walletId, amount: { amount: '-0.005', currency: 'EUR' }, reason: 'rounding test', idempotencyKey: key() }, 'input.amount.amount'],
      ['voucher', ISSUE, { idempotencyKey: uniq('vkey'), amount: { amount: '15.001', currency: 'EUR' }, expiresAt: later }, 'input.amount.amount'],
      ['auto top-up threshold', AUTO_TOPUP, { walletId: eur.walletId, enabled: true, threshold: '5.001', topupAmount: '15.00', paymentMethodToken: 'tok_visa' }, 'input.threshold'],
      ['auto top-up amount', AUTO_TOPUP, { walletId: eur.walletId, enabled: true, threshold: '5.00', topupAmount: '15.005', paymentMethodToken: 'tok_visa' }, 'input.topupAmount'],
      ['auto top-up target', AUTO_TOPUP, { walletId: jpy.walletId, enabled: true, threshold: '500', targetBalance: '1000.5', paymentMethodToken: 'tok_visa' }, 'input.targetBalance'],
      ['auto top-up daily limit', AUTO_TOPUP, { walletId: eur.walletId, enabled: true, threshold: '5.00', topupAmount: '15.00', paymentMethodToken: 'tok_visa', dailyLimit: '50.001' }, 'input.dailyLimit'],
      ['budget committed', BUDGET, { billingAccountId: eurBudget.billingAccountId, committed: { amount: '100.001', currency: 'EUR' }, threshold: '20' }, 'input.committed.amount'],
      ['budget threshold', BUDGET, { billingAccountId: jpyBudget.billingAccountId, committed: { amount: '10000', currency: 'JPY' }, threshold: '2000.5' }, 'input.threshold'],
      ['credit limit', OPEN, { billingAccountId: uniq('acc'), currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '100.001' }, 'input.creditLimit'],
      ['overdraft limit', LIMITS, { walletId: eur.walletId, overdraftLimit: '5.001' }, 'input.overdraftLimit'],
      ['low-balance threshold', LIMITS, { walletId: jpy.walletId, lowBalanceThreshold: '100.5' }, 'input.lowBalanceThreshold'],
    ];
    const answers: [string, unknown][] = [];
    for (const [label, mutation, input] of cases) {
      const res = await svc.request(mutation, { i: input });
      const e = res.errors?.[0]?.extensions;
      answers.push([label, e ? { code: e.code, reason: e.reason, field: e.field } : 'accepted']);
    }
    expect(answers).toEqual(cases.map(([label, , , field]) => [label, { code: 'BAD_USER_INPUT', reason: 'AMOUNT_PRECISION', field }]));
    expect({ eur: await balanceOf(svc, eur.walletId), jpy: await balanceOf(svc, jpy.walletId) }).toEqual({ eur: '10', jpy: '0' });
  });

  it('amounts in the minor unit are taken (trailing zeros too); rated charges keep their sub-cent prices', async () => {
    const eur = await openPrepaid(svc, { balance: '10.10' });
    const jpy = await openJpy();
    await gql(svc, TOPUP, { i: { billingAccountId: jpy.billingAccountId, amount: { amount: '500.000', currency: 'JPY' }, idempotencyKey: uniq('key') } });
    const rated = (await gql(svc, APPLY, { i: charge(eur.billingAccountId, { units: '1000', pricePerUnit: '0.000123' }) })).applyCharge.result;
    expect({ eur: await balanceOf(svc, eur.walletId), jpy: await balanceOf(svc, jpy.walletId), charged: rated.amountCharged.amount }).toEqual({ eur: '9.977', jpy: '500', charged: '0.123' });
  });

  it('an auto top-up up to a target asks the card for whole cents (rounded up), not the sub-cent difference a rated charge left', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '50.00' });
    await gql(svc, AUTO_TOPUP, { i: { walletId, enabled: true, threshold: '10.00', targetBalance: '50.00', paymentMethodToken: 'tok_visa' } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '40.123456', pricePerUnit: '1.00' }) }); // 50 → 9.876544
    const requests = await dbOf(svc).query<{ amount: string }>(`select amount::text from topup_request where wallet_id = $1`, [walletId]);
    // Before: 40.123456, a card payment that cannot be made.
    expect(requests.map((r) => r.amount)).toEqual(['40.130000']);
  });
});
