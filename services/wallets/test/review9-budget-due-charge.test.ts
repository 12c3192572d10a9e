// Review 9: a one-off charge (an add-on, a starter-pack fee) on a committed-spend budget wallet.
// Gaps 8 promised that a budget wallet's charge "may use the balance plus the next replenishment:
// it is not cut short", and that "every credit pays due charges". A one-off charge is decided on
// the balance alone (applyOneOffCharge: covers(balance, overdraft, amount)), so one larger than the
// balance is left DUE (the customer is told to top up: a budget is funded by its replenishments);
// and the budget's replenishment, which credits the wallet with the committed amount, is not one of
// the credits that run settleAfterCredit. The fee is never taken: money never charged.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;

describe('a one-off charge on a committed-spend budget wallet', () => {
  it('is taken (now, or by the replenishment that follows), never left due for good', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // 100
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '70', pricePerUnit: '1.00' }) }); // 30
    expect(await balanceOf(svc, walletId)).toBe('30');

    // An add-on of 50 bought on the account: within balance + the next replenishment (130).
    const addOn: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ADD_ON_PURCHASE',
      amount: '50.00', currency: 'EUR', description: 'Roaming pass', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    } as OneOffChargeData;
    await dbOf(svc).tx((sql) => applyOneOffCharge(sql, addOn, T0));

    // Usage draws the budget below its threshold: it is replenished (a credit of 100 to the wallet).
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '15', pricePerUnit: '1.00' }) });
    const replenished = await dbOf(svc).query<{ n: string }>(`select count(*)::text as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]);
    expect(Number(replenished[0]!.n)).toBeGreaterThanOrEqual(2);

    // The add-on's fee has been taken from the budget wallet; nothing waits for a top-up.
    const open = await dbOf(svc).query(`select id, amount::text from due_charge where billing_account_id = $1 and settled_at is null`, [billingAccountId]);
    expect(open).toEqual([]);
    const taken = await dbOf(svc).query(`select id from ledger_transaction where idempotency_key = $1`, [`CHARGE:${addOn.chargeId}`]);
    expect(taken).toHaveLength(1);
  });
});
