// Two credits to a prepaid wallet that did not pay what is due. Every other credit (top-up,
// voucher, recharge, adjustBalance, one-off CREDIT, budget replenishment) pays the account's due
// one-off charges oldest first and brings its bundles waiting for their fee forward
// (settleAfterCredit), in its own transaction. A rerate's negative ADJUSTMENT charge (arriving
// through the charging path, as usage sends it) and the unused-days refund of an ended bundle only
// raised the balance: the fee stayed due ("your next top-up pays it first") with the money there.
// Now they settle it the same way, in the same transaction, once (a redelivery pays nothing again).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeRequest, OneOffChargeData, SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, charge, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { applyCharges, applyChargesInLanes } from '../src/application/apply-charges';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import type { PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);

const oneOff = (billingAccountId: string, amount: string, over: Partial<OneOffChargeData> = {}): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ACTIVATION_FEE',
  amount, currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(), ...over,
});
const applyOneOff = (d: OneOffChargeData, now = T0) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, now));

/** A rerate's correction as usage sends it (rerate-period.ts adjustmentCharge): one ITEM at the delta, negative = credit. */
const rerate = (billingAccountId: string, delta: string): ChargeRequest =>
  charge(billingAccountId, { chargeId: uniq('rrt'), kind: 'ADJUSTMENT', units: '1', unit: 'ITEM', pricePerUnit: delta, amount: delta, zone: 'HOME' }) as ChargeRequest;

interface DueState { id: string; settled: boolean; transaction_id: string | null }
async function dueOf(acc: string): Promise<DueState[]> {
  return dbOf(svc).query<DueState>(`select id, settled_at is not null as settled, transaction_id from due_charge where billing_account_id = $1 order by created_at, id`, [acc]);
}
/** The ledger transactions that took a due charge (key CHARGE:<chargeId>): kind and what the wallet moved. */
async function takenOf(chargeId: string) {
  return dbOf(svc).query<{ id: string; kind: string; amount: string }>(
    `select t.id, t.kind, e.amount::text as amount from ledger_transaction t join ledger_entry e on e.transaction_id = t.id and e.account_id = (select id from wallet where billing_account_id = t.billing_account_id and currency = 'EUR')
      where t.idempotency_key = $1`,
    [`CHARGE:${chargeId}`],
  );
}

/** A bundle of the account waiting for its fee, to be tried again at `retryAt`. */
async function bundleWaiting(acc: string, retryAt: Date): Promise<string> {
  const id = uniq('sub');
  await dbOf(svc).query(
    `insert into subscription_term (subscription_id, billing_account_id, line_id, plan_version_id, payment_mode, currency, status, starts_at, period_start, period_end, anchor_at, fee_state, retry_at, updated_at)
     values ($1, $2, 'lin_1', 'plv_1', 'PREPAID', 'EUR', 'ACTIVE', $3, $3, $4, $3, 'DUE', $5, $3)`,
    [id, acc, T0, new Date(T0.getTime() + 30 * DAY), retryAt],
  );
  return id;
}
const retryAtOf = async (id: string) => (await dbOf(svc).query<{ retry_at: Date }>(`select retry_at from subscription_term where subscription_id = $1`, [id]))[0]!.retry_at;

describe("a rerate's credit through the charging path pays what is due", () => {
  it('a negative ADJUSTMENT pays the due charges it covers, oldest first, and brings a waiting bundle forward; its redelivery pays nothing more', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc);
    const first = oneOff(acc, '4.95');
    const second = oneOff(acc, '8.00', { reason: 'ADD_ON_PURCHASE' });
    expect(await applyOneOff(first)).toBe('DUE');
    expect(await applyOneOff(second, at(0, 1))).toBe('DUE');
    const later = new Date(T0.getTime() + 3_600_000);
    const bundle = await bundleWaiting(acc, later);
    // Another account's usage in the same batch, as the consumer batches them.
    const other = await openPrepaid(svc, { balance: '5.00' });

    const credit = rerate(acc, '-10.00');
    const results = await applyCharges(dbOf(svc), [credit, charge(other.billingAccountId, { units: '2' }) as ChargeRequest], T0, { results: 'caller' });
    expect(results.map((r) => [r.outcome, r.amountCharged])).toEqual([['APPLIED', '-10.000000'], ['APPLIED', '2.000000']]);

    // 10.00 in: the older 4.95 is paid, the 8.00 is not covered by the 5.05 left.
    expect(await balanceOf(svc, walletId)).toBe('5.05');
    expect(await balanceOf(svc, other.walletId)).toBe('3');
    const due = await dueOf(acc);
    expect(due.map((d) => [d.id, d.settled])).toEqual([[first.chargeId, true], [second.chargeId, false]]);
    const taken = await takenOf(first.chargeId);
    expect(taken).toEqual([{ id: due[0]!.transaction_id, kind: 'ONE_OFF_CHARGE', amount: '-4.950000' }]);
    expect(await takenOf(second.chargeId)).toEqual([]);
    expect((await retryAtOf(bundle)).getTime()).toBeLessThan(later.getTime());

    // The same correction again (redelivered through the lanes, as the consumer applies): answered from the ledger, nothing paid twice.
    const again = await applyChargesInLanes(dbOf(svc), [credit], T0, { lanes: 2, batchSize: 1000, results: 'caller' });
    expect(again.map((r) => r.outcome)).toEqual(['APPLIED']);
    expect(await balanceOf(svc, walletId)).toBe('5.05');
    expect((await dueOf(acc)).map((d) => d.settled)).toEqual([true, false]);
    expect(await takenOf(first.chargeId)).toHaveLength(1);

    // A second, bigger correction pays the rest.
    await applyCharges(dbOf(svc), [rerate(acc, '-3.00')], T0);
    expect(await balanceOf(svc, walletId)).toBe('0.05');
    expect((await dueOf(acc)).map((d) => d.settled)).toEqual([true, true]);
    expect(await takenOf(second.chargeId)).toMatchObject([{ kind: 'ONE_OFF_CHARGE', amount: '-8.000000' }]);
  });

});

describe('the unused-days refund of an ended bundle pays what is due', () => {
  /** 15.00 every 30 days, prorated daily. */
  const DAILY: PlanTerms = {
    recurringFee: { amount: '15.00', period: 'DAYS30', proration: 'DAILY' },
    allowances: [{ id: 'data', name: '10 GB', unit: 'MB', quantity: '10240', validity: 'PERIOD' }],
  };
  const subscription = (billingAccountId: string): SubscriptionData => ({
    subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
    status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
  });

  it('the refund pays a due one-off charge in the same transaction, once however often the end comes', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, DAILY, T0)); // 15.00 for days 0–30
    expect(await balanceOf(svc, walletId)).toBe('5');
    const fee = oneOff(acc, '8.00', { reason: 'ADD_ON_PURCHASE', description: 'Roaming pack' });
    expect(await applyOneOff(fee, at(1))).toBe('DUE');
    const later = at(20, 13 * 60);
    const bundle = await bundleWaiting(acc, later);

    // Ends on day 20 at noon: 9 whole days back, 15.00 × 9 / 30 = 4.50 → 9.50, which pays the 8.00.
    const ended = { ...sub, status: 'ENDED', endsAt: at(20, 12 * 60).toISOString() };
    await Promise.all([0, 1, 2].map(() => dbOf(svc).tx((sql) => followSubscriptionChange(sql, ended, DAILY, at(20, 12 * 60)))));
    expect(await balanceOf(svc, walletId)).toBe('1.5');
    const due = await dueOf(acc);
    expect(due.map((d) => [d.id, d.settled])).toEqual([[fee.chargeId, true]]);
    expect(await takenOf(fee.chargeId)).toEqual([{ id: due[0]!.transaction_id, kind: 'ONE_OFF_CHARGE', amount: '-8.000000' }]);
    const refunds = await dbOf(svc).query(`select 1 from ledger_transaction where idempotency_key = $1`, [`RENEWAL_REFUND:${sub.subscriptionId}:${T0.toISOString()}`]);
    expect(refunds).toHaveLength(1);
    expect((await retryAtOf(bundle)).getTime()).toBeLessThan(later.getTime());
  });

  it('a refund that does not cover the due charge leaves it due', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '15.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, DAILY, T0)); // 0 left
    const fee = oneOff(acc, '8.00', { reason: 'ADD_ON_PURCHASE' });
    expect(await applyOneOff(fee, at(1))).toBe('DUE');
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...sub, status: 'ENDED', endsAt: at(20, 12 * 60).toISOString() }, DAILY, at(20, 12 * 60)));
    expect(await balanceOf(svc, walletId)).toBe('4.5');
    expect((await dueOf(acc)).map((d) => d.settled)).toEqual([false]);
  });
});
