// Review 9: a committed-spend budget's replenishment is a credit to the wallet, and every credit
// pays what is due first (settleAfterCredit). Before, only top-ups, vouchers, recharges and
// adjustments did: a one-off charge left due on a budget wallet waited for a top-up that a budget
// never gets, and was never taken.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;

function oneOff(billingAccountId: string, amount: string): OneOffChargeData {
  return {
    chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ADD_ON_PURCHASE',
    amount, currency: 'EUR', description: 'Roaming pass', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
  };
}

const openDue = (billingAccountId: string) => dbOf(svc).query(`select id from due_charge where billing_account_id = $1 and settled_at is null`, [billingAccountId]);
const takenOnce = async (chargeId: string) => (await dbOf(svc).query(`select id from ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`])).length;
const replenishments = async (billingAccountId: string) => Number((await dbOf(svc).query<{ n: string }>(`select count(*)::text as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]))[0]!.n);

describe("a budget's replenishment pays the account's due charges", () => {
  it('a charge due before the account became a budget is paid by the budget funding it', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const fee = oneOff(billingAccountId, '50.00');
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE');
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } });
    expect(await openDue(billingAccountId)).toEqual([]);
    expect(await takenOnce(fee.chargeId)).toBe(1);
    expect(await balanceOf(svc, walletId)).toBe('60'); // 10 + 100 − 50
    expect(await replenishments(billingAccountId)).toBe(1);
  });

  it('a charge beyond the headroom stays due, and the replenishment a usage charge causes pays it (replenishing again as needed)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // 100
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '70', pricePerUnit: '1.00' }) }); // 30
    const fee = oneOff(billingAccountId, '150.00'); // > 30 + 100: due
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE');
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '15', pricePerUnit: '1.00' }) }); // 15 < 20: + 100 = 115, − 150 = −35, + 100 = 65
    expect(await openDue(billingAccountId)).toEqual([]);
    expect(await takenOnce(fee.chargeId)).toBe(1);
    expect(await balanceOf(svc, walletId)).toBe('65');
    expect(await replenishments(billingAccountId)).toBe(3);
    // Judged after the replenishments and the payment: nothing says the balance is used up.
    const notices = await dbOf(svc).query(`select kind from notification where wallet_id = $1 and kind in ('DEPLETED', 'LOW_BALANCE')`, [walletId]);
    expect(notices).toEqual([]);
  });

  it('a top-up that pays a due charge with the headroom, and so replenishes, pays it once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // 100
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '70', pricePerUnit: '1.00' }) }); // 30
    const fee = oneOff(billingAccountId, '150.00'); // > 30 + 100: due
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE');
    await topup(svc, billingAccountId, '30.00'); // 60 + 100 ≥ 150: paid → −90, replenished twice → 110
    expect(await openDue(billingAccountId)).toEqual([]);
    expect(await takenOnce(fee.chargeId)).toBe(1);
    expect(await balanceOf(svc, walletId)).toBe('110');
    expect(await replenishments(billingAccountId)).toBe(3);
  });
});
