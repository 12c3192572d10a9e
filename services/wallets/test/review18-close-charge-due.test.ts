// review18: closeCharge on a chargeId whose one-off charge waits as a due charge (balance too low).
// closeCharge answers "not taken" and closes CHARGE:<id>, but the due_charge row stays open: the
// next top-up's settleDueCharges posts under the same key CHARGE:<id> (unique) and the top-up fails,
// or (were the key free) the money "never taken" would be taken after the caller refunded.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, openPrepaid, uniq, startWallets } from './support';
import { applyOneOffCharge, openDueCharges } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const CLOSE = `mutation($i: CloseChargeInput!) { closeCharge(input: $i) { taken outcome reason } }`;

describe('review18: closeCharge of a due one-off charge', () => {
  it('a charge closed as not taken is not taken later, and the next top-up still works', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const addOn: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ADD_ON_PURCHASE',
      amount: '5.00', currency: 'EUR', description: 'Add-on', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    } as OneOffChargeData;
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, addOn, T0))).toBe('DUE');
    const closed = (await gql(svc, CLOSE, { i: { chargeId: addOn.chargeId, billingAccountId } })).closeCharge;
    expect(closed.taken).toBe(false);
    // Closed with the id: no longer shown as due; the same id again gives the same answer.
    expect(await dbOf(svc).tx((sql) => openDueCharges(sql, billingAccountId))).toEqual([]);
    expect((await gql(svc, CLOSE, { i: { chargeId: addOn.chargeId, billingAccountId } })).closeCharge.taken).toBe(false);
    // The caller now refunds the customer. A later top-up must succeed and must not take the closed charge.
    const res = await svc.request<any>(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { balance { amount } } } }`, {
      i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'test' },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(await balanceOf(svc, walletId)).toBe('10');
  });
});
