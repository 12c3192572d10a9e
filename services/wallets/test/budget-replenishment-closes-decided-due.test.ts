// A wallet funded only by its committed-spend budget: its replenishments are its only credits. A due one-off whose
// chargeId a charge decided afterwards (the add-on's applyCharge under the same id) is settled by that decision
// (closeDueChargesDecided) when a credit's settleDueCharges runs; budget replenishment skipped such a due charge (its
// key taken) but did not close it, so on such a wallet the row stayed open for ever (session 33 follow-up). Now the
// replenishment closes it too, by the key's row, nothing taken twice.
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

describe('budget replenishment and a due charge a later charge decided', () => {
  it('closes it by the charge\'s decision (a wallet only ever replenished by its budget)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } });
    expect(await balanceOf(svc, walletId)).toBe('100');
    // More than the balance and the next replenishment: left due.
    const d: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: null, orderId: 'ord_1', kind: 'CHARGE', reason: 'ADD_ON_PURCHASE',
      amount: '500.00', currency: 'EUR', description: 'Roaming pass', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    };
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0))).toBe('DUE');
    // The add-on's purchase under the same chargeId: refused (the balance does not cover it); its decision is the key's.
    const denied = await gql(svc, APPLY, { i: charge(billingAccountId, { chargeId: d.chargeId, usageType: 'ADD_ON', unit: 'ITEM', units: '1', pricePerUnit: '500.00' }) });
    expect(denied.applyCharge.result.outcome).toBe('DENIED');
    const [key] = await dbOf(svc).query<{ id: string; kind: string }>(`select id, kind from ledger_transaction where idempotency_key = $1`, [`CHARGE:${d.chargeId}`]);
    expect(key?.kind).toBe('CHARGE');

    // Usage draws the budget below its threshold: replenished (no top-up ever).
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '85', pricePerUnit: '1.00' }) });
    const [n] = await dbOf(svc).query<{ n: string }>(`select count(*)::text as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]);
    expect(Number(n!.n), 'replenished after the usage').toBeGreaterThanOrEqual(2);
    expect(await balanceOf(svc, walletId), 'nothing taken for the refused charge').toBe('115');

    const [due] = await dbOf(svc).query<{ settled: boolean; transaction_id: string | null }>(`select settled_at is not null as settled, transaction_id from due_charge where id = $1`, [d.chargeId]);
    expect(due, 'closed by the charge\'s refusal').toEqual({ settled: true, transaction_id: key!.id });
    expect(await dbOf(svc).query(`select id from ledger_transaction where idempotency_key = $1`, [`CHARGE:${d.chargeId}`])).toHaveLength(1);
    // Refused, nothing taken: the customer told it was due is told it no longer is.
    const notices = await dbOf(svc).query<{ kind: string }>(`select kind from notification where billing_account_id = $1 and kind = 'CHARGE_DUE_CANCELLED'`, [billingAccountId]);
    expect(notices).toHaveLength(1);
  });
});
