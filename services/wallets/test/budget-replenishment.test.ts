// Committed-spend budgets (found in review, tenth session): a budget wallet with an auto top-up rule
// got both the budget's replenishment and a card top-up for one low balance; and money only held by
// a reservation replenished the budget (an invoice), which stayed when the hold was released, so
// reserving and releasing again and again invoiced the enterprise for money it never spent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;
const SET_AUTO_TOPUP = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { autoTopup { enabled } } } }`;
const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } grantedUnit { units amount { amount } } } }`;
const RELEASE = `mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { resultCode reservation { status } } }`;
const COMMIT = `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode reservation { status } amountCharged } }`;

const budget = (billingAccountId: string) => ({ billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' });
const autoTopup = (walletId: string, enabled = true) => ({ walletId, enabled, threshold: '30.00', topupAmount: '50.00', paymentMethodToken: 'tok_visa' });
const topupRequests = async (walletId: string) => (await dbOf(svc).query(`select amount::text, status from topup_request where wallet_id = $1`, [walletId])).map((r) => [r.amount, r.status]);
const replenishments = async (billingAccountId: string) => Number((await dbOf(svc).query<{ n: string }>(`select count(*) as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]))[0]!.n);
const receivable = async (billingAccountId: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [`${billingAccountId}:BUDGET_RECEIVABLE:EUR`]))[0]!.balance;

describe('a committed-spend budget and an auto top-up rule on one wallet', () => {
  it('cannot be combined: an auto top-up on a budget wallet, or a budget on a wallet with an auto top-up, is refused naming the field', async () => {
    const a = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: budget(a.billingAccountId) });
    const topupOnBudget = await svc.request(SET_AUTO_TOPUP, { i: autoTopup(a.walletId) });
    expect(topupOnBudget.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'AUTO_TOPUP_ON_BUDGET_WALLET', field: 'input.walletId' });
    // Turning a rule off is always allowed.
    expect((await gql(svc, SET_AUTO_TOPUP, { i: autoTopup(a.walletId, false) })).setAutoTopup.wallet.autoTopup).toEqual({ enabled: false });

    const b = await openPrepaid(svc);
    await gql(svc, SET_AUTO_TOPUP, { i: autoTopup(b.walletId) });
    const budgetOnTopup = await svc.request(SET_BUDGET, { i: budget(b.billingAccountId) });
    expect(budgetOnTopup.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BUDGET_WALLET_HAS_AUTO_TOPUP', field: 'input.billingAccountId' });
    expect(await balanceOf(svc, b.walletId)).toBe('0');
  });

  it('a rule stored before the refusal: a low balance is replenished by the budget only, no card top-up is requested as well', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: budget(billingAccountId) });
    await dbOf(svc).query(
      `insert into auto_topup_rule (wallet_id, enabled, threshold, topup_amount, payment_method_token, updated_at) values ($1, true, 30, 50, 'tok_visa', now())`,
      [walletId],
    );
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '85', pricePerUnit: '1.00' }) }); // 100 → 15: below both thresholds
    expect({ balance: await balanceOf(svc, walletId), replenishments: await replenishments(billingAccountId), topups: await topupRequests(walletId) })
      .toEqual({ balance: '115', replenishments: 2, topups: [] });
  });
});

describe('a committed-spend budget and money held by reservations', () => {
  const reserve = async (billingAccountId: string, units: string) =>
    (await gql(svc, RESERVE, { i: { requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: units, pricePerUnit: '1.00', allowanceIds: [] } })).reserveBalance;

  it('a hold is not spending: it replenishes nothing, its release leaves the budget as it was, what a commit spends is replenished', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: budget(billingAccountId) }); // funded: 100, one replenishment

    // 85 held: 15 available, 100 unspent (above the threshold of 20): no invoice for money not spent.
    const held = await reserve(billingAccountId, '85');
    expect(held.grantedUnit).toEqual({ units: '85', amount: { amount: '85' } });
    expect({ balance: await balanceOf(svc, walletId), replenishments: await replenishments(billingAccountId) }).toEqual({ balance: '15', replenishments: 1 });
    // Released: back to 100, invoiced once (before: replenished at the hold, 200 after the release, 200 invoiced).
    await gql(svc, RELEASE, { i: { reservationId: held.reservation.id } });
    expect({ balance: await balanceOf(svc, walletId), replenishments: await replenishments(billingAccountId), receivable: await receivable(billingAccountId) })
      .toEqual({ balance: '100', replenishments: 1, receivable: '-100.000000' });

    // Held again and spent: the commit takes 100 → 15 unspent, below 20: replenished once.
    const spent = await reserve(billingAccountId, '85');
    expect((await gql(svc, COMMIT, { i: { reservationId: spent.reservation.id, usedUnits: '85' } })).commitReservation).toMatchObject({ reservation: { status: 'COMMITTED' } });
    expect({ balance: await balanceOf(svc, walletId), replenishments: await replenishments(billingAccountId), receivable: await receivable(billingAccountId) })
      .toEqual({ balance: '115', replenishments: 2, receivable: '-200.000000' });
  });
});
