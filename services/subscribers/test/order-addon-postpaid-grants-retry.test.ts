import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_SECRET, type ManualClock, type TestService } from '@ledgerline/platform';
import { runOrderSaga, type SagaDeps } from '../src/application/order-saga';
import { recoverOrders } from '../src/application/recover-orders';
import { BillingAccount, Line, ProductOrder, Subscription } from '../src/persistence/entities';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';
import { FileCatalog } from './support';
import type { Outage } from './wallets-outage-proxy';
import { startTemporalAddOnServices, walletsData } from './add-on-orders';
import { checkLedgerInvariants } from '../../wallets/src/persistence/invariants';

/**
 * An ADD_ON on a POSTPAID account whose offer has two allowances (ROAM_WORLD_PASS_7D: data and
 * voice): wallets grants the first bucket, then becomes unreachable, and the completion is retried
 * later (time moved on) once wallets is back. Wallets keys a grant by its key and its data, the start
 * included: a retry dated anew was refused (IDEMPOTENCY_KEY_REUSED, reported as WALLETS_UNAVAILABLE)
 * at every attempt, so the order could never complete and ended FAILED with the first bucket given
 * away and nothing billed. Now the grants' start is fixed before the first attempt for postpaid
 * orders too. Driven through the Temporal steps (`completeOrder` mutation) and the inline saga (its
 * retries, and the recovery sweep after a crash). Real PostgreSQL, the real wallets service and the
 * real GraphQL wallets client, with the outage proxy between them.
 */
const start = new Date('2026-11-20T09:00:00Z');
const OFFER = 'ROAM_WORLD_PASS_7D';
const PRICE = '9.99';
const LEASE_MS = 600;
const sagaOptions = { attempts: 3, callTimeoutMs: 2000, backoffMs: 1, leaseMs: LEASE_MS };
const run = randomBytes(3).toString('hex');
let wallets: TestService;
let subscribers: TestService;
let clock: ManualClock;
let n = 0;
let outage: Outage;
let resetOutage: () => void;
let stopServices: () => Promise<void>;
let proxyUrl: string;

beforeAll(async () => {
  const started = await startTemporalAddOnServices(start, 'Postpaid Paul');
  ({ clock, wallets, subscribers, close: stopServices } = started);
  ({ outage, reset: resetOutage, url: proxyUrl } = started.proxy);
}, 60_000);
afterAll(async () => {
  await stopServices?.();
});

let accountId: string;
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
  em.create(BillingAccount, { id: accountId, customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: start });
  await em.flush();
  em.create(Line, { id: lineId, billingAccountId: accountId, msisdn: `+4915320000${String(n).padStart(2, '0')}`, iccid: null, imsi: null, status: 'ACTIVE', planCode: 'POSTPAID_20GB', createdAt: start, updatedAt: start });
  await em.flush();
  em.create(Subscription, { id: subscriptionId, lineId, billingAccountId: accountId, planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid-20gb_1', status: 'ACTIVE', sharedAllowances: false, addOns: '[]', startsAt: start, endsAt: null, createdAt: start });
  await em.flush();
  const request = { subscriptionId, offerCode: OFFER, price: { amount: PRICE, currency: 'EUR' }, validityDays: 7 };
  em.create(ProductOrder, { id: orderId, kind: 'ADD_ON', status: 'ACKNOWLEDGED', billingAccountId: accountId, lineId, request: JSON.stringify(request), idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: clock.now(), updatedAt: clock.now(), completedAt: null });
  await em.flush();
  // Wallets knows the account (it grants buckets only to one it knows), as from its subscription events.
  await walletsOk(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: accountId, currency: 'EUR', paymentMode: 'POSTPAID' } });
});

/** An order step as the workflow's activity calls it (SYSTEM caller), an attempt a while after the last. */
async function step(name: 'startOrder' | 'completeOrder') {
  clock.advance(45_000);
  return subscribers.request<any>(`mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status failureCode } } }`, { i: { orderId } });
}

const walletsOk = (query: string, variables: Record<string, unknown>) => walletsData(wallets, query, variables);
/** The account's buckets in wallets: allowance, start, end. */
async function buckets(): Promise<[string, string, string][]> {
  const d = await walletsOk(`query($a: ID!) { buckets(billingAccountId: $a) { allowanceId validFrom validTo } }`, { a: accountId });
  return (d.buckets as { allowanceId: string; validFrom: string; validTo: string }[]).map((b): [string, string, string] => [b.allowanceId, new Date(b.validFrom).toISOString(), new Date(b.validTo).toISOString()]).sort();
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
async function chargeEvents() {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like ?`, [`%${orderId}%`]);
  return rows[0]!.n;
}

/** COMPLETED, dated `at` (the first attempt): both buckets granted once from then, the one-off charge billed once. */
async function expectCompletedOnce(at: Date) {
  const ends = new Date(at.getTime() + 7 * 86_400_000).toISOString();
  expect((await orderRow()).status).toBe('COMPLETED');
  expect(await addOns()).toEqual([{ code: OFFER, startsAt: at.toISOString(), endsAt: ends }]);
  expect(await buckets()).toEqual([
    ['roam-pass-data', at.toISOString(), ends],
    ['roam-pass-voice', at.toISOString(), ends],
  ]);
  expect(await oneOffs()).toEqual([['CHARGE', Number(PRICE)]]);
  expect(await chargeEvents()).toBe(1);
}

describe('postpaid ADD_ON with two allowances, wallets unreachable after the first grant', () => {
  it('Temporal: the completeOrder retried a while later, wallets back, completes with the same grants', async () => {
    expect((await step('startOrder')).data?.startOrder.order.status).toBe('IN_PROGRESS');
    outage.downAfterGrant = true;
    const first = await step('completeOrder');
    const firstAt = clock.now();
    // The workflow's activities retry this category (workflows/src/errors.ts, RETRYABLE_GRAPHQL_CODE).
    expect(first.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL', reason: 'WALLETS_UNAVAILABLE' });
    expect((await orderRow()).status).toBe('IN_PROGRESS');
    expect((await buckets()).map((b) => b[0])).toEqual(['roam-pass-data']);
    expect(await oneOffs()).toEqual([]);

    Object.assign(outage, { down: false, downAfterGrant: false });
    const retry = await step('completeOrder');
    expect(retry.errors).toBeUndefined();
    expect(retry.data.completeOrder.order.status).toBe('COMPLETED');
    await expectCompletedOnce(firstAt);
    // A retry after the completion (its answer lost) changes nothing.
    expect((await step('completeOrder')).data.completeOrder.order.status).toBe('COMPLETED');
    await expectCompletedOnce(firstAt);
  });

  it('inline saga: the completion retried (time moved on, wallets back) completes with the same grants', async () => {
    const { deps, client } = processWith();
    const grant = client.grantBucket.bind(client);
    client.grantBucket = async (g) => {
      try {
        return await grant(g);
      } catch (error) {
        outage.down = false; // back for the saga's next attempt
        outage.downAfterGrant = false;
        throw error;
      } finally {
        clock.advance(1_000); // each call takes a while
      }
    };
    outage.downAfterGrant = true;
    const at = clock.now();
    const done = await runOrderSaga(deps, orderId, sagaOptions);
    expect(outage.dropped).toBeGreaterThan(0);
    expect(done.status).toBe('COMPLETED');
    await expectCompletedOnce(at);
  });

  it('inline saga: the process dies after the first grant; the sweep (later) completes it with the same grants', async () => {
    const first = processWith();
    const grant = first.client.grantBucket.bind(first.client);
    first.client.grantBucket = async (g) => {
      await grant(g);
      first.kill();
      throw new Error('process killed');
    };
    const at = clock.now();
    await runOrderSaga(first.deps, orderId, sagaOptions).catch(() => undefined);
    expect((await orderRow()).status).toBe('IN_PROGRESS');
    expect((await buckets()).map((b) => b[0])).toEqual(['roam-pass-data']);

    clock.advance(LEASE_MS + 60_000);
    const done = await recoverOrders(processWith().deps, sagaOptions);
    expect(done.filter((d) => d.orderId === orderId).map((d) => d.order?.status ?? String(d.error))).toEqual(['COMPLETED']);
    await expectCompletedOnce(at);
  });
});

describe('a postpaid ADD_ON failed after its instant was fixed', () => {
  // A postpaid account pays nothing in wallets: failing sends no charge and refunds nothing, but the
  // grants its completion made are taken back (revokeBucketGrant), and the key of the grant that
  // never landed is closed, so the customer keeps no free allowance of a FAILED order.
  const allBuckets = async () =>
    ((await walletsOk(`query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { allowanceId status remaining } }`, { a: accountId })).buckets as { allowanceId: string; status: string; remaining: string }[]).map((b) => [b.allowanceId, b.status, b.remaining]);
  const lateVoiceGrant = async () => {
    const at = (await orderRow()).sagaChargeAt!;
    return new GraphqlWalletsClient(wallets.url, DEV_INTERNAL_SECRET).grantBucket({ billingAccountId: accountId, lineId: (await orderRow()).lineId, allowanceId: 'roam-pass-voice', name: 'voice', unit: 'SECOND', quantity: '3600', validFrom: at, validTo: new Date(at.getTime() + 7 * 86_400_000), grantKey: `addon:${orderId}:roam-pass-voice` });
  };

  it('inline saga, wallets down past the retries: FAILED; once wallets is back the sweep revokes the grant made, no charge sent, nothing refunded', async () => {
    outage.downAfterGrant = true;
    await runOrderSaga(processWith().deps, orderId, sagaOptions).catch(() => undefined);
    const order = await orderRow();
    expect(order).toMatchObject({ status: 'FAILED', failureCode: 'WALLETS_UNAVAILABLE' });
    expect(order.sagaChargeAt).not.toBeNull();
    expect(await allBuckets()).toEqual([['roam-pass-data', 'ACTIVE', '1024']]);

    Object.assign(outage, { down: false, downAfterGrant: false });
    clock.advance(LEASE_MS + 1);
    const done = await recoverOrders(processWith().deps, sagaOptions);
    expect(done.filter((d) => d.orderId === orderId).map((d) => d.order?.status ?? String(d.error))).toEqual(['FAILED']);
    expect(await orderRow()).toMatchObject({ status: 'FAILED', sagaCompensate: false });
    expect(await allBuckets()).toEqual([['roam-pass-data', 'REVOKED', '0']]);
    await expect(lateVoiceGrant()).rejects.toMatchObject({ code: 'GRANT_REVOKED', details: { retryable: false } });
    expect(outage.charges).toBe(0);
    expect(await oneOffs()).toEqual([]);
    expect(await chargeEvents()).toBe(0);
    expect(await checkLedgerInvariants(wallets.runtime.orm.em.fork())).toEqual([]);
  });

  it('Temporal failOrder after a failed completion: FAILED, answered as an outage while wallets is down; then the grant made is revoked, no charge sent, nothing refunded', async () => {
    expect((await step('startOrder')).data?.startOrder.order.status).toBe('IN_PROGRESS');
    outage.downAfterGrant = true;
    expect((await step('completeOrder')).errors?.[0]?.extensions?.reason).toBe('WALLETS_UNAVAILABLE');
    const fail = () => {
      clock.advance(45_000);
      return subscribers.request<any>(`mutation($i: OrderStepInput!) { failOrder(input: $i) { order { status failureCode } } }`, { i: { orderId, failureCode: 'WALLETS_UNAVAILABLE', failureMessage: 'down' } });
    };
    // The workflow's activities retry this category.
    expect((await fail()).errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL', reason: 'WALLETS_UNAVAILABLE' });
    expect((await orderRow()).status).toBe('FAILED');

    Object.assign(outage, { down: false, downAfterGrant: false });
    const failed = await fail();
    expect(failed.errors).toBeUndefined();
    expect(failed.data.failOrder.order).toEqual({ status: 'FAILED', failureCode: 'WALLETS_UNAVAILABLE' });
    expect(await allBuckets()).toEqual([['roam-pass-data', 'REVOKED', '0']]);
    await expect(lateVoiceGrant()).rejects.toMatchObject({ code: 'GRANT_REVOKED' });
    // Again (the answer lost): the same.
    expect((await fail()).data.failOrder.order.status).toBe('FAILED');
    expect(await allBuckets()).toEqual([['roam-pass-data', 'REVOKED', '0']]);
    expect(outage.charges).toBe(0);
    expect(await oneOffs()).toEqual([]);
    expect(await chargeEvents()).toBe(0);
  });
});

function processWith() {
  const life = new AbortController();
  const client = new GraphqlWalletsClient(proxyUrl, DEV_INTERNAL_SECRET);
  const deps: SagaDeps = { orm: subscribers.runtime.orm, clock, provisioning: new SandboxProvisioning(), effects: { wallets: client, catalog: new FileCatalog() }, signal: life.signal };
  return { deps, client, kill: () => life.abort() };
}
