import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, topup, uniq } from './support';
import { startWallets } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const starterFee = (billingAccountId: string, amount: string, over: Partial<OneOffChargeData> = {}): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ACTIVATION_FEE',
  amount, currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(), ...over,
});
const apply = (d: OneOffChargeData) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0));
const DUE = `query($id: ID!) { billingAccount: _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { dueCharges { id reason description amount { amount currency } } balanceNotifications { kind message } } } }`;
const dueOf = async (acc: string) => (await gql(svc, DUE, { id: acc })).billingAccount[0];
const oneOffTxs = async (chargeId: string) => (await dbOf(svc).query(`select kind from ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`])).map((r) => r.kind);

describe("a prepaid account's one-off charges come out of its balance", () => {
  it('takes a starter fee the balance covers once, however often (and however concurrently) the event comes, and credits a credit', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
    const fee = starterFee(acc, '4.95');
    const outcomes = await Promise.all([apply(fee), apply(fee), apply(fee)]);
    expect(outcomes.filter((o) => o === 'TAKEN')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY')).toHaveLength(2);
    expect(await balanceOf(svc, walletId)).toBe('15.05');
    expect(await oneOffTxs(fee.chargeId)).toEqual(['ONE_OFF_CHARGE']);

    expect(await apply(starterFee(acc, '-2.00', { kind: 'CREDIT', reason: 'PLAN_CHANGE_PRORATION' }))).toBe('CREDITED');
    expect(await balanceOf(svc, walletId)).toBe('17.05');
  });

  it('keeps a fee the balance cannot pay as due, tells the customer once, and the next top-up that covers it pays it first, oldest first', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc);
    const starter = starterFee(acc, '3.00');
    const addOn = starterFee(acc, '8.00', { reason: 'ADD_ON_PURCHASE', description: 'Data boost' });
    expect(await apply(starter)).toBe('DUE');
    expect(await apply(starter)).toBe('DUE'); // redelivered: still one due charge, one message
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, addOn, new Date(T0.getTime() + 1000)))).toBe('DUE');
    let view = await dueOf(acc);
    expect(view.dueCharges).toEqual([
      { id: starter.chargeId, reason: 'ACTIVATION_FEE', description: 'Starter pack', amount: { amount: '3', currency: 'EUR' } },
      { id: addOn.chargeId, reason: 'ADD_ON_PURCHASE', description: 'Data boost', amount: { amount: '8', currency: 'EUR' } },
    ]);
    const dueEvents = (await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 order by seq`, [EVENTS.chargeDue.subject])).map((r) => JSON.parse(r.payload).data).filter((e) => e.billingAccountId === acc);
    expect(dueEvents.map((e) => [e.chargeId, e.amount, e.balance])).toEqual([
      [starter.chargeId, { amount: '3.000000', currency: 'EUR' }, { amount: '0.000000', currency: 'EUR' }],
      [addOn.chargeId, { amount: '8.000000', currency: 'EUR' }, { amount: '0.000000', currency: 'EUR' }],
    ]);
    expect(view.balanceNotifications.filter((n: { kind: string }) => n.kind === 'CHARGE_DUE').map((n: { message: string }) => n.message).sort()).toEqual([
      'Data boost: 8.00 EUR is due and your balance is 0.00 EUR; your next top-up pays it first.',
      'Starter pack: 3.00 EUR is due and your balance is 0.00 EUR; your next top-up pays it first.',
    ]);

    // 5.00 pays the older 3.00; the 8.00 waits (first come, first paid), and 2.00 is left to spend.
    await topup(svc, acc, '5.00');
    expect(await balanceOf(svc, walletId)).toBe('2');
    expect((await dueOf(acc)).dueCharges.map((d: { id: string }) => d.id)).toEqual([addOn.chargeId]);
    // A charge the 2.00 cannot pay is refused, so the balance never goes below zero.
    expect((await gql(svc, APPLY, { i: charge(acc, { pricePerUnit: '2.50' }) })).applyCharge.result.outcome).not.toBe('APPLIED');

    await topup(svc, acc, '10.00');
    expect(await balanceOf(svc, walletId)).toBe('4');
    view = await dueOf(acc);
    expect(view.dueCharges).toEqual([]);
    expect(await oneOffTxs(starter.chargeId)).toEqual(['ONE_OFF_CHARGE']);
    expect(await oneOffTxs(addOn.chargeId)).toEqual(['ONE_OFF_CHARGE']);
    // Paid: the event once more changes nothing.
    expect(await apply(addOn)).toBe('ALREADY');
    expect(await balanceOf(svc, walletId)).toBe('4');
  });

  it('leaves a postpaid account (invoicing bills it) and an add-on already paid when it was ordered alone', async () => {
    const post = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    expect(await apply(starterFee(post.billingAccountId, '9.95'))).toBe('NOT_PREPAID');
    expect(await dbOf(svc).query(`select 1 from due_charge where billing_account_id = $1`, [post.billingAccountId])).toEqual([]);

    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const paid = (await gql(svc, APPLY, { i: charge(acc, { usageType: 'ADD_ON', unit: 'ITEM', pricePerUnit: '6.00' }) })).applyCharge.result;
    expect(paid.outcome).toBe('APPLIED');
    expect(await apply(starterFee(acc, '6.00', { chargeId: paid.chargeId, reason: 'ADD_ON_PURCHASE' }))).toBe('ALREADY');
    expect(await balanceOf(svc, walletId)).toBe('4');
    expect(await apply(starterFee(acc, 'lots'))).toBe('INVALID');
  });

  it("takes the fee from subscribers' oneoffcharge.created event on the bus", async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '12.00' });
    const fee = starterFee(acc, '4.95');
    const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.oneOffChargeCreated.type, subject: fee.chargeId, time: T0, key: [fee.chargeId], data: fee });
    await svc.runtime.messaging.js.publish(EVENTS.oneOffChargeCreated.subject, JSON.stringify(event));
    const deadline = Date.now() + 20_000;
    while ((await balanceOf(svc, walletId)) !== '7.05' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await balanceOf(svc, walletId)).toBe('7.05');
  });
});
