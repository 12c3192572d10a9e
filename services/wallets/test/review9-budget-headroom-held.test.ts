// Review 9: a committed-spend budget's headroom (gaps 8: a charge may use the balance plus the next
// replenishment) lets the charge take the cash balance below zero, trusting that "the same
// transaction replenishes it back to the threshold" (STATUS.md). But the replenishment is judged
// on the UNSPENT money (balance + what reservations hold, budget.ts BUDGETS_BELOW_THRESHOLD), not
// on the balance the headroom drew down. With money held by an open reservation the unspent money
// stays above the threshold, nothing is replenished, and the prepaid wallet (no overdraft) is left
// with a negative cash balance: the ledger invariant "no prepaid wallet below zero beyond its
// overdraft" is broken.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;
const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } grantedUnit { units amount { amount } } } }`;

describe('committed-spend budget headroom with money held by a reservation', () => {
  it('a charge using the next replenishment never leaves the prepaid cash balance below zero', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // funded: 100
    // An open data session holds 85: balance 15, unspent 100.
    const held = (await gql(svc, RESERVE, { i: { requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '85', pricePerUnit: '1.00', allowanceIds: [] } })).reserveBalance;
    expect(held.grantedUnit).toEqual({ units: '85', amount: { amount: '85' } });
    expect(await balanceOf(svc, walletId)).toBe('15');

    // An SMS bundle charge of 50: headroom 15 + 100 (the next replenishment) → applied in full.
    const r = (await gql(svc, APPLY, { i: charge(billingAccountId, { units: '50', pricePerUnit: '1.00' }) })).applyCharge.result;
    expect(r).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '50' } });
    // 15 − 50 = −35 cash; unspent −35 + 85 = 50 ≥ 20: no replenishment, the wallet stays at −35.
    expect(Number(await balanceOf(svc, walletId))).toBeGreaterThanOrEqual(0);
  });
});
