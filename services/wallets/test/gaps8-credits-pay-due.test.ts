// Gaps 8: every credit to a prepaid wallet pays what is due. A prepaid account's due one-off
// charges ("… is due and your balance is 0.00 EUR. Your next top-up pays it first") and its bundles
// waiting for their fee were settled by top-ups, vouchers and recharges (creditWallet), but an
// agent's goodwill credit (adjustBalance) and a one-off CREDIT (a proration) only raised the
// balance: the fee stayed due, the bundle unstarted, until some later top-up. Now they settle it the
// same way, in the same transaction, once (a replayed credit pays nothing again).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const oneOff = (billingAccountId: string, amount: string, over: Partial<OneOffChargeData> = {}): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ACTIVATION_FEE',
  amount, currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(), ...over,
});
const apply = (d: OneOffChargeData) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0));
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { wallet { balance { amount } } } }`;
const adjust = (walletId: string, amount: string, idempotencyKey: string) => gql(svc, ADJUST, { i: { walletId, amount: { amount, currency: 'EUR' }, reason: 'goodwill: outage', idempotencyKey } });

async function openDue(acc: string) {
  return dbOf(svc).query<{ id: string }>(`select id from due_charge where billing_account_id = $1 and settled_at is null order by created_at, id`, [acc]);
}

/** A bundle of the account waiting for its fee, to be tried again at `retryAt`. */
async function bundleWaiting(acc: string, retryAt: Date): Promise<string> {
  const id = uniq('sub');
  await dbOf(svc).query(
    `insert into subscription_term (subscription_id, billing_account_id, line_id, plan_version_id, payment_mode, currency, status, starts_at, period_start, period_end, anchor_at, fee_state, retry_at, updated_at)
     values ($1, $2, 'lin_1', 'plv_1', 'PREPAID', 'EUR', 'ACTIVE', $3, $3, $4, $3, 'DUE', $5, $3)`,
    [id, acc, T0, new Date(T0.getTime() + 30 * 86_400_000), retryAt],
  );
  return id;
}
const retryAtOf = async (id: string) => (await dbOf(svc).query<{ retry_at: Date }>(`select retry_at from subscription_term where subscription_id = $1`, [id]))[0]!.retry_at;

describe('a credit to a prepaid wallet pays what is due', () => {
  it("an agent's goodwill credit pays the due fee first and brings a waiting bundle forward; its replay pays nothing more", async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc);
    const fee = oneOff(acc, '4.95');
    expect(await apply(fee)).toBe('DUE');
    const later = new Date(T0.getTime() + 3_600_000);
    const bundle = await bundleWaiting(acc, later);

    const key = uniq('adjkey');
    const d = await adjust(walletId, '10.00', key);
    expect(d.adjustBalance.wallet.balance.amount).toBe('5.05');
    expect(await openDue(acc)).toEqual([]);
    expect((await retryAtOf(bundle)).getTime()).toBeLessThan(later.getTime());

    await adjust(walletId, '10.00', key); // the same request again
    expect(await balanceOf(svc, walletId)).toBe('5.05');
    const taken = await dbOf(svc).query(`select 1 from ledger_transaction where idempotency_key = $1`, [`CHARGE:${fee.chargeId}`]);
    expect(taken).toHaveLength(1);
  });

  it('a one-off CREDIT pays the due charges it covers, oldest first, once however often it comes', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc);
    const first = oneOff(acc, '3.00');
    const second = oneOff(acc, '5.00', { reason: 'ADD_ON_PURCHASE' });
    expect(await apply(first)).toBe('DUE');
    expect(await apply(second)).toBe('DUE');
    const credit = oneOff(acc, '-4.00', { kind: 'CREDIT', reason: 'PLAN_CHANGE_PRORATION' });
    const outcomes = await Promise.all([apply(credit), apply(credit)]);
    expect(outcomes.sort()).toEqual(['ALREADY', 'CREDITED']);
    expect(await balanceOf(svc, walletId)).toBe('1');
    expect((await openDue(acc)).map((r) => r.id)).toEqual([second.chargeId]);
  });

  it('a goodwill debit pays nothing', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '2.00' });
    expect(await apply(oneOff(acc, '4.95'))).toBe('DUE');
    await adjust(walletId, '-1.00', uniq('adjkey'));
    expect(await openDue(acc)).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('1');
  });
});
