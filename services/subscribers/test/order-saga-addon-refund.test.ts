import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_SECRET, dropSchema, ManualClock, openDatabase, OutboxRelay, connectMessaging, createLogger, TEST_DATABASE_URL, TEST_NATS_URL, type Messaging, type Orm, type TestService } from '@ledgerline/platform';
import { runOrderSaga, type SagaDeps } from '../src/application/order-saga';
import { recoverOrders } from '../src/application/recover-orders';
import { BillingAccount, Customer, entities, Line, ProductOrder, Subscription } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';
import { FileCatalog } from './support';
import { startWalletsOutageProxy, type Outage } from './wallets-outage-proxy';
import { startWalletsForAddOns, walletsData } from './add-on-orders';
import { addOnChargeId } from '../src/application/fulfil-order';
import { checkLedgerInvariants } from '../../wallets/src/persistence/invariants';

/**
 * An inline ADD_ON purchase on a prepaid account whose completion fails because wallets becomes
 * unreachable after it took the money. Real PostgreSQL, the real wallets service and the real
 * GraphQL wallets client; the outage is a proxy between them that starts dropping connections
 * (as the crash-recovery test's port dies inside a call). The money ends either kept for a
 * delivered add-on or refunded once (a CREDIT one-off wallets takes by its id), across retries,
 * a crash and the recovery sweep. Also: a resumed order whose line has gone ends FAILED
 * (ORDER_LINE_GONE) with its charge refunded once, instead of being retried every lease.
 */
const start = new Date('2026-11-20T09:00:00Z');
const LEASE_MS = 600;
const options = { attempts: 2, callTimeoutMs: 2000, backoffMs: 1, leaseMs: LEASE_MS };
const run = randomBytes(3).toString('hex');
const schema = `t_addonrefund_${run}_subscribers`;
let orm: Orm;
let wallets: TestService;
let messaging: Messaging;
let relay: OutboxRelay;
let proxyUrl: string;
let clock: ManualClock;
let n = 0;

let outage: Outage;
let stopProxy: () => Promise<void>;
let resetOutage: () => void;

beforeAll(async () => {
  wallets = await startWalletsForAddOns(new ManualClock(start));
  ({ url: proxyUrl, outage, reset: resetOutage, close: stopProxy } = await startWalletsOutageProxy(wallets.url));

  orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
  messaging = await connectMessaging(TEST_NATS_URL, 'addon-refund-test');
  relay = new OutboxRelay(orm, messaging.js, { logger: createLogger('addon-refund-test', 'warn') });
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Refund Rita', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: start });
  await em.flush();
}, 60_000);
afterAll(async () => {
  await relay?.stop();
  await messaging?.nc.drain();
  await stopProxy?.();
  await wallets?.close();
  await orm?.close();
  await dropSchema(schema);
});

let accountId: string;
let walletId: string;
let lineId: string;
let subscriptionId: string;
let orderId: string;
let msisdn: string;
beforeEach(async () => {
  n += 1;
  resetOutage();
  clock = new ManualClock(start);
  accountId = `acc_${run}_${n}`;
  lineId = `lin_${run}_${n}`;
  subscriptionId = `sub_${run}_${n}`;
  orderId = `ord_${run}_${n}`;
  msisdn = `+4915300000${String(n).padStart(2, '0')}`;
  const em = orm.em.fork();
  em.create(BillingAccount, { id: accountId, customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'PREPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 0, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: start });
  await em.flush();
  em.create(Line, { id: lineId, billingAccountId: accountId, msisdn, iccid: null, imsi: null, status: 'ACTIVE', planCode: 'PREPAID_PAYG', createdAt: start, updatedAt: start });
  await em.flush();
  em.create(Subscription, { id: subscriptionId, lineId, billingAccountId: accountId, planCode: 'PREPAID_PAYG', planVersionId: 'plv_prepaid-payg_1', status: 'ACTIVE', sharedAllowances: false, addOns: '[]', startsAt: start, endsAt: null, createdAt: start });
  await em.flush();
  const request = { subscriptionId, offerCode: 'DATA_BOOST_5GB', price: { amount: '5', currency: 'EUR' }, validityDays: 30 };
  em.create(ProductOrder, { id: orderId, kind: 'ADD_ON', status: 'ACKNOWLEDGED', billingAccountId: accountId, lineId, request: JSON.stringify(request), idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: start, updatedAt: start, completedAt: null });
  await em.flush();
  const opened = await walletsOk(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: accountId, currency: 'EUR', paymentMode: 'PREPAID' } });
  walletId = opened.openWallet.wallet.id;
  await walletsOk(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`, { i: { billingAccountId: accountId, amount: { amount: '12', currency: 'EUR' }, idempotencyKey: `top_${run}_${n}`, reference: 'test' } });
});

const walletsOk = (query: string, variables: Record<string, unknown>) => walletsData(wallets, query, variables);
async function balance(): Promise<number> {
  const d = await walletsOk(`query($id: ID!) { wallet(id: $id) { balance { amount } } }`, { id: walletId });
  return Number(d.wallet.balance.amount);
}
async function buckets(): Promise<string[]> {
  const d = await walletsOk(`query($a: ID!) { buckets(billingAccountId: $a) { allowanceId } }`, { a: accountId });
  return d.buckets.map((b: { allowanceId: string }) => b.allowanceId);
}
/** Publishes subscribers' outbox (as the service's relay does) and waits until wallets has taken it. */
async function deliverAndSettle(expected: number): Promise<void> {
  await relay.drain();
  const until = Date.now() + 10_000;
  while ((await balance()) !== expected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  // Anything else still on its way would land now.
  await new Promise((r) => setTimeout(r, 300));
}

function processWith(opts: { network?: SandboxProvisioning } = {}) {
  const life = new AbortController();
  const deps: SagaDeps = {
    orm,
    clock,
    provisioning: opts.network ?? new SandboxProvisioning(),
    effects: { wallets: new GraphqlWalletsClient(proxyUrl, DEV_INTERNAL_SECRET), catalog: new FileCatalog() },
    signal: life.signal,
  };
  return { deps, kill: () => life.abort() };
}

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return orm.em.fork().getConnection().execute(text, params) as Promise<T[]>;
}
async function orderRow() {
  return orm.em.fork().findOneOrFail(ProductOrder, { id: orderId });
}
async function addOns() {
  return JSON.parse((await orm.em.fork().findOneOrFail(Subscription, { id: subscriptionId })).addOns) as { code: string }[];
}
async function oneOffs() {
  return sql<{ id: string; kind: string; amount: string }>(`select id, kind, amount::text as amount from one_off_charge where order_id = ? order by kind`, [orderId]);
}
async function refundEvents() {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like ? and payload like '%"CREDIT"%'`, [`%${orderId}%`]);
  return rows[0]!.n;
}

/** The order failed, its charge given back once: 12.00 again, no add-on, one CREDIT of -5 (and no charge row). */
async function expectFailedAndRefundedOnce(code: string) {
  const order = await orderRow();
  expect(order).toMatchObject({ status: 'FAILED', failureCode: code, sagaCompensate: false });
  expect(await addOns()).toEqual([]);
  const rows = await oneOffs();
  expect(rows.map((r) => [r.kind, Number(r.amount)])).toEqual([['CREDIT', -5]]);
  expect(await refundEvents()).toBe(1);
  await deliverAndSettle(12);
  expect(await balance()).toBe(12);
}

describe('inline ADD_ON: wallets unreachable after it took the money', () => {
  it('an outage after the charge, lasting past the completion retries: FAILED, the charge refunded once (after the outage, by the sweep)', async () => {
    outage.downAfterCharge = true;
    await runOrderSaga(processWith().deps, orderId, options).catch(() => undefined);
    // The money is gone from the balance, and no add-on was delivered.
    expect(await balance()).toBe(7);
    expect(await addOns()).toEqual([]);
    expect((await orderRow()).status).toBe('FAILED');
    // Still down: a sweep refunds nothing yet (nor twice later).
    await recoverOrders(processWith().deps, options);
    expect(await refundEvents()).toBe(0);
    // Wallets back: the next sweep refunds it, once.
    outage.down = false;
    outage.downAfterCharge = false;
    clock.advance(LEASE_MS + 1);
    const after = await recoverOrders(processWith().deps, options);
    expect(after.map((d) => [d.orderId, d.order?.status ?? String(d.error)])).toEqual([[orderId, 'FAILED']]);
    await expectFailedAndRefundedOnce('WALLETS_UNAVAILABLE');
    // Later sweeps find nothing; the refund is not made again.
    clock.advance(10 * LEASE_MS);
    expect(await recoverOrders(processWith().deps, options)).toEqual([]);
    await expectFailedAndRefundedOnce('WALLETS_UNAVAILABLE');
  });

  it('the answer to the charge lost, wallets back at once: the completion is retried and the add-on delivered, paid once', async () => {
    outage.loseChargeAnswer = true;
    const done = await runOrderSaga(processWith().deps, orderId, options);
    expect(done.status).toBe('COMPLETED');
    expect((await addOns()).map((a) => a.code)).toEqual(['DATA_BOOST_5GB']);
    expect(await buckets()).toEqual(['boost-data']);
    expect((await oneOffs()).map((r) => [r.kind, Number(r.amount)])).toEqual([['CHARGE', 5]]);
    await deliverAndSettle(7);
    expect(await balance()).toBe(7);
    expect(await refundEvents()).toBe(0);
  });

  it('a crash during the refund (after it was settled in wallets): the sweep finishes it, refunded once', async () => {
    outage.loseChargeAnswer = true;
    outage.stayDown = true;
    const first = processWith();
    await runOrderSaga(first.deps, orderId, { ...options, attempts: 1 }).catch(() => undefined);
    expect((await orderRow()).status).toBe('FAILED');
    expect(await balance()).toBe(7);
    outage.down = false;
    // A process that dies right after wallets answered the settlement (before it wrote the refund).
    const second = processWith();
    const wallet = second.deps.effects!.wallets!;
    const close = wallet.closeCharge.bind(wallet);
    wallet.closeCharge = async (chargeId, billingAccountId) => {
      await close(chargeId, billingAccountId);
      second.kill();
      return new Promise<never>(() => {});
    };
    clock.advance(LEASE_MS + 1);
    void recoverOrders(second.deps, options);
    await new Promise((r) => setTimeout(r, 300));
    expect(await refundEvents()).toBe(0);
    clock.advance(LEASE_MS + 1);
    const third = await recoverOrders(processWith().deps, options);
    expect(third.map((d) => [d.orderId, d.order?.status ?? String(d.error)])).toEqual([[orderId, 'FAILED']]);
    await expectFailedAndRefundedOnce('WALLETS_UNAVAILABLE');
    clock.advance(10 * LEASE_MS);
    expect(await recoverOrders(processWith().deps, options)).toEqual([]);
  });

  it('the process dies after wallets took the money: the sweep (later, the clock moved on) completes it with the same charge, paid once', async () => {
    await crashAfterCharge();
    clock.advance(LEASE_MS + 1);
    const done = await recoverOrders(processWith().deps, options);
    expect(done.map((d) => [d.orderId, d.order?.status ?? String(d.error)])).toEqual([[orderId, 'COMPLETED']]);
    // Dated when the charge was first sent (wallets refuses its id again with another time).
    expect(await addOns()).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: start.toISOString(), endsAt: '2026-12-20T09:00:00.000Z' }]);
    expect(await buckets()).toEqual(['boost-data']);
    expect((await oneOffs()).map((r) => [r.kind, Number(r.amount)])).toEqual([['CHARGE', 5]]);
    await deliverAndSettle(7);
    expect(await balance()).toBe(7);
    expect(await refundEvents()).toBe(0);
    clock.advance(10 * LEASE_MS);
    expect(await recoverOrders(processWith().deps, options)).toEqual([]);
  });
});

/**
 * The first run takes the money in wallets and its process dies inside the completion: the
 * transaction is rolled back (its connection gone), the order left IN_PROGRESS for the sweep.
 */
async function crashAfterCharge() {
  const first = processWith();
  const wallet = first.deps.effects!.wallets!;
  const charge = wallet.chargePurchase.bind(wallet);
  wallet.chargePurchase = async (c) => {
    await charge(c);
    first.kill();
    throw new Error('process killed');
  };
  void runOrderSaga(first.deps, orderId, options).catch(() => undefined);
  for (let i = 0; i < 200 && (await balance()) !== 7; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  expect(await balance()).toBe(7);
  expect((await orderRow()).status).toBe('IN_PROGRESS');
}

describe('inline ADD_ON failed: what wallets holds of it is settled before anything is given back', () => {
  const LEDGER = `query($a: ID!) { ledgerEntries(billingAccountId: $a, first: 100) { edges { node { id transactionKind } } } }`;
  const ledger = async () => (await walletsOk(LEDGER, { a: accountId })).ledgerEntries.edges.map((e: { node: { transactionKind: string } }) => e.node.transactionKind) as string[];
  const allBuckets = async () =>
    (await walletsOk(`query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { allowanceId status remaining } }`, { a: accountId })).buckets as { allowanceId: string; status: string; remaining: string }[];
  const invariants = async () => expect(await checkLedgerInvariants(wallets.runtime.orm.em.fork())).toEqual([]);

  it('the charge never reached wallets: FAILED, the balance never moves (no debit, no credit, no refund), and a late copy of the charge is refused', async () => {
    const before = await ledger();
    outage.down = true;
    await runOrderSaga(processWith().deps, orderId, options).catch(() => undefined);
    expect(outage.charges).toBeGreaterThan(0);
    expect((await orderRow()).status).toBe('FAILED');
    // Wallets back: the sweep settles the charge id (closed, never taken) and gives nothing back.
    outage.down = false;
    clock.advance(LEASE_MS + 1);
    const after = await recoverOrders(processWith().deps, options);
    expect(after.map((d) => [d.orderId, d.order?.status ?? String(d.error)])).toEqual([[orderId, 'FAILED']]);
    expect(await orderRow()).toMatchObject({ status: 'FAILED', failureCode: 'WALLETS_UNAVAILABLE', sagaCompensate: false });
    expect(await oneOffs()).toEqual([]);
    expect(await refundEvents()).toBe(0);
    await deliverAndSettle(12);
    expect(await balance()).toBe(12);
    expect(await ledger()).toEqual(before);
    // A copy of the charge still on its way (as the completion sent it) can no longer take the money.
    const order = await orderRow();
    const late = await new GraphqlWalletsClient(wallets.url, DEV_INTERNAL_SECRET).chargePurchase({ chargeId: addOnChargeId(orderId), billingAccountId: accountId, lineId, amount: '5', currency: 'EUR', occurredAt: order.sagaChargeAt! });
    expect(late.outcome).toBe('DENIED');
    expect(late.reason).toMatch(/^CHARGE_CLOSED/);
    expect(await balance()).toBe(12);
    expect(await ledger()).toEqual(before);
    await invariants();
  });

  it('the completion failed after a grant (two allowances, wallets gone after the first): FAILED, the grant revoked, the other grant key closed, the charge refunded once', async () => {
    const em = orm.em.fork();
    const row = await em.findOneOrFail(ProductOrder, { id: orderId });
    row.request = JSON.stringify({ ...JSON.parse(row.request), offerCode: 'ROAM_WORLD_PASS_7D', validityDays: 7 });
    await em.flush();
    outage.downAfterGrant = true;
    await runOrderSaga(processWith().deps, orderId, options).catch(() => undefined);
    expect((await orderRow()).status).toBe('FAILED');
    expect(await balance()).toBe(7);
    expect((await allBuckets()).map((b) => [b.allowanceId, b.status])).toEqual([['roam-pass-data', 'ACTIVE']]);

    Object.assign(outage, { down: false, downAfterGrant: false });
    clock.advance(LEASE_MS + 1);
    const after = await recoverOrders(processWith().deps, options);
    expect(after.map((d) => [d.orderId, d.order?.status ?? String(d.error)])).toEqual([[orderId, 'FAILED']]);
    expect(await allBuckets()).toEqual([{ allowanceId: 'roam-pass-data', status: 'REVOKED', remaining: '0' }]);
    await expectFailedAndRefundedOnce('WALLETS_UNAVAILABLE');
    // Nothing draws on the revoked bucket: a charge naming its allowance is priced in full.
    const use = await walletsOk(`mutation($i: ApplyChargeInput!) { applyCharge(input: $i) { result { outcome unitsFromAllowances amountCharged { amount } } } }`, {
      i: { chargeId: `chg_use_${run}_${n}`, billingAccountId: accountId, lineId, paymentMode: 'PREPAID', currency: 'EUR', usageType: 'DATA', occurredAt: clock.now().toISOString(), units: '10', unit: 'MB', allowanceIds: ['roam-pass-data'], pricePerUnit: '0.01', allowOverdraft: false },
    });
    expect(use.applyCharge.result).toEqual({ outcome: 'APPLIED', unitsFromAllowances: '0', amountCharged: { amount: '0.1' } });
    // The grant that never landed can no longer land: refused, final (not an outage).
    const order = await orderRow();
    const late = new GraphqlWalletsClient(wallets.url, DEV_INTERNAL_SECRET).grantBucket({ billingAccountId: accountId, lineId, allowanceId: 'roam-pass-voice', name: 'voice', unit: 'SECOND', quantity: '3600', validFrom: order.sagaChargeAt!, validTo: new Date(order.sagaChargeAt!.getTime() + 7 * 86_400_000), grantKey: `addon:${orderId}:roam-pass-voice` });
    await expect(late).rejects.toMatchObject({ code: 'GRANT_REVOKED', category: 'CONFLICT', details: { retryable: false } });
    expect((await allBuckets()).map((b) => [b.allowanceId, b.status])).toEqual([['roam-pass-data', 'REVOKED']]);
    await invariants();
  });
});

describe('a resumed order whose line has gone', () => {
  it.each([
    ['terminated', `update line set status = 'TERMINATED' where id = ?`],
    // PostgreSQL's foreign keys keep an ordered line's row; a database without them (SQLite does not
    // enforce them unless asked) can lose it: the order's line row is missing.
    ['deleted', `alter table product_order drop constraint product_order_line_id_foreign; alter table subscription drop constraint subscription_line_id_foreign; delete from line where id = '$ID'`],
  ])('line %s meanwhile: FAILED ORDER_LINE_GONE, the charge refunded once, no further sweep', async (_, change) => {
    await crashAfterCharge();
    if (change.includes('$ID')) await sql(change.replaceAll('$ID', lineId));
    else await sql(change, [lineId]);
    const network = new SandboxProvisioning();
    clock.advance(LEASE_MS + 1);
    const done = await recoverOrders(processWith({ network }).deps, options);
    expect(done.map((d) => [d.orderId, d.order?.status ?? String(d.error), d.order?.failureCode])).toEqual([[orderId, 'FAILED', 'ORDER_LINE_GONE']]);
    // Nothing provisioned for a line that is gone, nor "undone" on it.
    expect(network.calls).toEqual([]);
    const order = await orderRow();
    expect(order).toMatchObject({ status: 'FAILED', failureCode: 'ORDER_LINE_GONE', sagaCompensate: false });
    const rows = await oneOffs();
    expect(rows.map((r) => [r.kind, Number(r.amount)])).toEqual([['CREDIT', -5]]);
    expect(await refundEvents()).toBe(1);
    await deliverAndSettle(12);
    expect(await balance()).toBe(12);
    for (let i = 0; i < 3; i++) {
      clock.advance(10 * LEASE_MS);
      expect(await recoverOrders(processWith().deps, options)).toEqual([]);
    }
    expect(await refundEvents()).toBe(1);
  });
});
