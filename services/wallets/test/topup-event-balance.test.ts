// What subscribers needs to confirm a top-up to the customer (services/subscribers,
// money-notifications.test.ts, TOPUP_CONFIRMED): billing.wallets.balance.topup carries, besides the
// amount credited, the balance once it is credited and once the one-off charges that were waiting for a
// top-up are paid from it in the same transaction (`balance`, `duePaid`; added 2027-01-29). Before, the
// event named the amount only: the customer could not be told what their balance now is. Real PostgreSQL.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData, TopupBalanceData } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, outboxEventsOf, startWallets, topup, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const topups = async (billingAccountId: string): Promise<TopupBalanceData[]> => (await outboxEventsOf(svc, 'billing.wallets.balance.topup', billingAccountId)).map((e) => e.data);

describe('balance.topup carries the balance after it', () => {
  it('a top-up: the balance it leaves; a voucher that pays a charge waiting for it: the balance after that charge', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '3.00' });
    await topup(svc, billingAccountId, '20.00');
    expect((await topups(billingAccountId)).map((d) => [d.amount, d.balance, d.duePaid])).toEqual([
      ['3.000000', { amount: '3.000000', currency: 'EUR' }, '0.000000'],
      ['20.000000', { amount: '23.000000', currency: 'EUR' }, '0.000000'],
    ]);

    // A 30.00 starter pack the 23.00 does not cover waits for the next top-up.
    const fee: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ACTIVATION_FEE',
      amount: '30.00', currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    };
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE');
    const later = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const v = await gql(svc, `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt: later } });
    await gql(svc, `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: uniq('key') } });
    expect(await balanceOf(svc, walletId)).toBe('8');
    const voucher = (await topups(billingAccountId)).find((d) => d.channel === 'VOUCHER');
    expect(voucher, 'the voucher paid the 30.00 waiting: 23 + 15 − 30').toMatchObject({ amount: '15.000000', balance: { amount: '8.000000', currency: 'EUR' }, duePaid: '30.000000' });
  });

  // A committed-spend budget's replenishment in the same transaction (session 29). The top-up paid a due charge
  // with the budget's headroom, which took the balance below zero, and the budget was replenished at once: the
  // event said the balance before the replenishment (−90.00: "Your balance is now −90.00 EUR") while the customer
  // had 110.00. The balance is now read once everything the credit set off is on the ledger, with what the
  // budget was replenished by (`replenished`) and all the due charges paid in it (`duePaid`).
  it('a top-up on a budget wallet that pays a due charge and so replenishes the budget: the balance after the replenishment, and by how much', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // 100
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '70', pricePerUnit: '1.00' }) }); // 30
    const fee: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ADD_ON_PURCHASE',
      amount: '150.00', currency: 'EUR', description: 'Roaming pass', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    };
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE'); // > 30 + 100
    await topup(svc, billingAccountId, '30.00'); // 60 + 100 ≥ 150: paid → −90, replenished twice → 110
    expect(await balanceOf(svc, walletId)).toBe('110');
    const [event] = (await topups(billingAccountId)).filter((d) => d.amount === '30.000000');
    expect(event).toMatchObject({ balance: { amount: '110.000000', currency: 'EUR' }, duePaid: '150.000000', replenished: '200.000000' });
  });

  it('a top-up on a wallet without a budget says it replenished nothing', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    await topup(svc, billingAccountId, '20.00');
    expect((await topups(billingAccountId)).map((d) => d.replenished)).toEqual(['0.000000']);
  });
});
