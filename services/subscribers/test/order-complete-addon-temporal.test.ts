import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { BillingAccount, Line, ProductOrder, Subscription } from '../src/persistence/entities';
import type { Outage } from './wallets-outage-proxy';
import { startTemporalAddOnServices, walletsData } from './add-on-orders';

/**
 * Temporal fulfilment of an ADD_ON on a prepaid account, driven as the order workflow's activities
 * drive it: the SYSTEM caller's `startOrder`, `completeOrder` (retried by the workflow after an
 * outage, later) and `failOrder` mutations. Real PostgreSQL, the real wallets service and the real
 * GraphQL wallets client; the outage is a proxy between them that drops connections (the technique
 * of order-saga-addon-refund.test.ts). A completion retried after wallets took the money sends the
 * same charge (before: dated at each attempt, refused CHARGE_ID_CONFLICT for good), and a workflow
 * that fails the order after wallets took the money gets it back once.
 */
const start = new Date('2026-11-20T09:00:00Z');
const run = randomBytes(3).toString('hex');
let wallets: TestService;
let subscribers: TestService;
let clock: ManualClock;
let n = 0;
let outage: Outage;
let resetOutage: () => void;
let stopServices: () => Promise<void>;

beforeAll(async () => {
  const started = await startTemporalAddOnServices(start, 'Temporal Tess');
  ({ clock, wallets, subscribers, close: stopServices } = started);
  ({ outage, reset: resetOutage } = started.proxy);
}, 60_000);
afterAll(async () => {
  await stopServices?.();
});

let accountId: string;
let walletId: string;
let subscriptionId: string;
let orderId: string;
beforeEach(async () => {
  n += 1;
  resetOutage();
  accountId = `acc_${run}_${n}`;
  const lineId = `lin_${run}_${n}`;
  subscriptionId = `sub_${run}_${n}`;
  orderId = `ord_${run}_${n}`;
  const em = subscribers.runtime.orm.em.fork();
  em.create(BillingAccount, { id: accountId, customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'PREPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 0, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: start });
  await em.flush();
  em.create(Line, { id: lineId, billingAccountId: accountId, msisdn: `+4915310000${String(n).padStart(2, '0')}`, iccid: null, imsi: null, status: 'ACTIVE', planCode: 'PREPAID_PAYG', createdAt: start, updatedAt: start });
  await em.flush();
  em.create(Subscription, { id: subscriptionId, lineId, billingAccountId: accountId, planCode: 'PREPAID_PAYG', planVersionId: 'plv_prepaid-payg_1', status: 'ACTIVE', sharedAllowances: false, addOns: '[]', startsAt: start, endsAt: null, createdAt: start });
  await em.flush();
  const opened = await walletsOk(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: accountId, currency: 'EUR', paymentMode: 'PREPAID' } });
  walletId = opened.openWallet.wallet.id;
  await walletsOk(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`, { i: { billingAccountId: accountId, amount: { amount: '12', currency: 'EUR' }, idempotencyKey: `top_${run}_${n}`, reference: 'test' } });
});

/** An ADD_ON order (price 5.00 unless said), placed and started as the workflow starts it. */
async function startedOrder(price = '5') {
  const em = subscribers.runtime.orm.em.fork();
  const request = { subscriptionId, offerCode: 'DATA_BOOST_5GB', price: { amount: price, currency: 'EUR' }, validityDays: 30 };
  const line = await em.findOneOrFail(Line, { billingAccountId: accountId });
  em.create(ProductOrder, { id: orderId, kind: 'ADD_ON', status: 'ACKNOWLEDGED', billingAccountId: accountId, lineId: line.id, request: JSON.stringify(request), idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: clock.now(), updatedAt: clock.now(), completedAt: null });
  await em.flush();
  expect((await step('startOrder')).data?.startOrder.order.status).toBe('IN_PROGRESS');
}

/** An order step as the workflow's activity calls it (SYSTEM caller), an attempt a while after the last. */
async function step(name: 'startOrder' | 'completeOrder' | 'failOrder', failure?: { code: string; message: string }) {
  clock.advance(45_000);
  const input = failure ? { orderId, failureCode: failure.code, failureMessage: failure.message } : { orderId };
  return subscribers.request<any>(`mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status failureCode } } }`, { i: input });
}
async function expectOutage(answer: Awaited<ReturnType<typeof step>>) {
  // The workflow's activities retry this category (workflows/src/errors.ts, RETRYABLE_GRAPHQL_CODE).
  expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL', reason: 'WALLETS_UNAVAILABLE' });
}

const walletsOk = (query: string, variables: Record<string, unknown>) => walletsData(wallets, query, variables);
async function balance(): Promise<number> {
  const d = await walletsOk(`query($id: ID!) { wallet(id: $id) { balance { amount } } }`, { id: walletId });
  return Number(d.wallet.balance.amount);
}
async function buckets(): Promise<string[]> {
  const d = await walletsOk(`query($a: ID!) { buckets(billingAccountId: $a) { allowanceId } }`, { a: accountId });
  return d.buckets.map((b: { allowanceId: string }) => b.allowanceId);
}
/** Lets the service's outbox relay publish and wallets take it (the balance reaching `expected`). */
async function settled(expected: number): Promise<number> {
  subscribers.runtime.relay.nudge();
  const until = Date.now() + 10_000;
  while ((await balance()) !== expected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  // Anything else still on its way would land now.
  await new Promise((r) => setTimeout(r, 300));
  return balance();
}
async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return subscribers.runtime.orm.em.fork().getConnection().execute(text, params) as Promise<T[]>;
}
async function orderRow() {
  return subscribers.runtime.orm.em.fork().findOneOrFail(ProductOrder, { id: orderId });
}
async function addOns() {
  return JSON.parse((await subscribers.runtime.orm.em.fork().findOneOrFail(Subscription, { id: subscriptionId })).addOns) as { code: string; startsAt: string; endsAt: string }[];
}
async function oneOffs() {
  const rows = await sql<{ kind: string; amount: string }>(`select kind, amount::text as amount from one_off_charge where order_id = ? order by kind`, [orderId]);
  return rows.map((r) => [r.kind, Number(r.amount)]);
}
async function refundEvents() {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like ? and payload like '%"CREDIT"%'`, [`%${orderId}%`]);
  return rows[0]!.n;
}

describe('Temporal completeOrder of an ADD_ON retried after wallets took the money', () => {
  it('wallets unreachable after the charge (the grant fails): the retry a while later completes with the same charge, paid once', async () => {
    await startedOrder();
    outage.downAfterCharge = true;
    const first = await step('completeOrder');
    await expectOutage(first);
    const chargedAt = clock.now();
    expect(await balance()).toBe(7);
    expect((await orderRow()).status).toBe('IN_PROGRESS');
    expect(await addOns()).toEqual([]);

    Object.assign(outage, { down: false, downAfterCharge: false });
    const retry = await step('completeOrder');
    expect(retry.errors).toBeUndefined();
    expect(retry.data.completeOrder.order.status).toBe('COMPLETED');
    // Dated when the charge was first sent (wallets refuses its id again with another time).
    expect(await addOns()).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: chargedAt.toISOString(), endsAt: new Date(chargedAt.getTime() + 30 * 86_400_000).toISOString() }]);
    expect(await buckets()).toEqual(['boost-data']);
    expect(await oneOffs()).toEqual([['CHARGE', 5]]);
    expect(await settled(7)).toBe(7);
    expect(await refundEvents()).toBe(0);
    // A retry after the completion (its answer lost) changes nothing.
    expect((await step('completeOrder')).data.completeOrder.order.status).toBe('COMPLETED');
    expect(await settled(7)).toBe(7);
  });

  it('the answer to the charge lost: the retry completes it, paid once', async () => {
    await startedOrder();
    outage.loseChargeAnswer = true;
    await expectOutage(await step('completeOrder'));
    expect(await balance()).toBe(7);
    const retry = await step('completeOrder');
    expect(retry.errors).toBeUndefined();
    expect(retry.data.completeOrder.order.status).toBe('COMPLETED');
    expect((await addOns()).map((a) => a.code)).toEqual(['DATA_BOOST_5GB']);
    expect(await buckets()).toEqual(['boost-data']);
    expect(await oneOffs()).toEqual([['CHARGE', 5]]);
    expect(await settled(7)).toBe(7);
  });
});

describe('Temporal failOrder of an ADD_ON', () => {
  it('failed after wallets took the money: refunded once, however often the workflow repeats failOrder', async () => {
    await startedOrder();
    outage.downAfterCharge = true;
    await expectOutage(await step('completeOrder'));
    expect(await balance()).toBe(7);
    Object.assign(outage, { down: false, downAfterCharge: false });

    const failed = await step('failOrder', { code: 'SUBSCRIPTION_NOT_ACTIVE_CONFLICT', message: 'refused' });
    expect(failed.errors).toBeUndefined();
    expect(failed.data.failOrder.order).toEqual({ status: 'FAILED', failureCode: 'SUBSCRIPTION_NOT_ACTIVE_CONFLICT' });
    expect(await oneOffs()).toEqual([['CREDIT', -5]]);
    expect(await refundEvents()).toBe(1);
    expect(await settled(12)).toBe(12);
    expect(await addOns()).toEqual([]);
    // The workflow's retry of failOrder (its answer lost) refunds nothing more, and needs no wallets.
    outage.down = true;
    expect((await step('failOrder', { code: 'SUBSCRIPTION_NOT_ACTIVE_CONFLICT', message: 'refused' })).data.failOrder.order.status).toBe('FAILED');
    outage.down = false;
    expect(await refundEvents()).toBe(1);
    expect(await settled(12)).toBe(12);
    // Nor can the order complete now.
    expect((await step('completeOrder')).errors?.[0]?.extensions?.reason).toBe('ORDER_ILLEGAL_TRANSITION');
  });

  it('wallets still unreachable when the order fails: FAILED, answered as an outage (the workflow retries failOrder), refunded once when wallets is back', async () => {
    await startedOrder();
    outage.downAfterCharge = true;
    await expectOutage(await step('completeOrder'));
    await expectOutage(await step('failOrder', { code: 'ORDER_FAILED', message: 'gave up' }));
    expect((await orderRow()).status).toBe('FAILED');
    expect(await refundEvents()).toBe(0);

    Object.assign(outage, { down: false, downAfterCharge: false });
    expect((await step('failOrder', { code: 'ORDER_FAILED', message: 'gave up' })).data.failOrder.order).toEqual({ status: 'FAILED', failureCode: 'ORDER_FAILED' });
    expect(await oneOffs()).toEqual([['CREDIT', -5]]);
    expect(await refundEvents()).toBe(1);
    expect(await settled(12)).toBe(12);
  });

  it('the charge refused by wallets (balance too low): FAILED, nothing refunded', async () => {
    await startedOrder('20');
    const refused = await step('completeOrder');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_PAYMENT_DENIED' });
    const failed = await step('failOrder', { code: 'ADDON_PAYMENT_DENIED', message: 'refused' });
    expect(failed.data.failOrder.order.status).toBe('FAILED');
    expect(await oneOffs()).toEqual([]);
    expect(await refundEvents()).toBe(0);
    expect(await settled(12)).toBe(12);
  });

  it('failed before any completion (provisioning failed): wallets is not asked, nothing refunded', async () => {
    await startedOrder();
    const failed = await step('failOrder', { code: 'PROVISIONING_FAILED', message: 'network said no' });
    expect(failed.data.failOrder.order.status).toBe('FAILED');
    expect(outage.charges).toBe(0);
    expect(await oneOffs()).toEqual([]);
    expect(await refundEvents()).toBe(0);
    expect(await balance()).toBe(12);
  });
});
