import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, type Em, type TestService } from '@ledgerline/platform';
import { liftCollectionsHold, placeCollectionsHold } from '../src/application/collections-holds';
import { completeOrder, ordersAfterCompletion, startOrder } from '../src/application/fulfil-order';
import { BillingAccount, CollectionsHold, Customer, entities, Line, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { DeferrableDispatcher, startHoldsService } from './holds-support';

/**
 * A line ordered before a dunning held its account (still PENDING then, so not held) that goes
 * live while the holds last is held by each holder and barred like the account's other lines, and
 * the holders' lifts resume it with them. Before, it went ACTIVE and stayed in service while the
 * rest of the account was barred for non-payment.
 */
let svc: TestService;
let dispatcher: DeferrableDispatcher;
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
const SYSTEM = { role: 'SYSTEM' as const, subject: 'workflows', scopes: [] };
beforeAll(async () => {
  ({ svc, dispatcher } = await startHoldsService(clock));
});
afterAll(() => svc?.close());

async function ok(q: string, v: Record<string, unknown> = {}, caller?: typeof SYSTEM) {
  clock.advance(1000);
  const r = await svc.request(q, v, caller);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

let msisdn = 0;
const newMsisdn = () => `+49151247${String(++msisdn).padStart(5, '0')}`;
const addLine = async (a: string) =>
  (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id status } order { id } } }`, { a, m: newMsisdn() }))
    .addLine as { line: { id: string; status: string }; order: { id: string } };

/** An account with one live line and one ordered (PENDING, its NEW_LINE order not fulfilled yet). */
async function accountWithPendingLine() {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Nell Newline", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
  const accountId = (
    await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })
  ).openBillingAccount.billingAccount.id as string;
  const live = (await addLine(accountId)).line.id;
  dispatcher.defer = true;
  const pending = await addLine(accountId);
  expect(pending.line.status).toBe('PENDING');
  return { accountId, live, pending: pending.line.id, newLineOrder: pending.order.id };
}

const PAYLOAD = `holds { holder line { id } } lines { id status } waiting { id }`;
const place = (accountId: string, holder: string, key = `${holder}:suspend`) =>
  ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, {
    i: { billingAccountId: accountId, holder, reason: `${holder} unpaid`, idempotencyKey: key },
  }).then((d) => d.placeCollectionsHold);
const lift = (accountId: string, holder: string, key = `${holder}:restore`) =>
  ok(`mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { ${PAYLOAD} } }`, {
    i: { billingAccountId: accountId, holder, reason: `${holder} paid`, idempotencyKey: key },
  }).then((d) => d.liftCollectionsHold);
const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id })).line.status as string));
const holdsOf = async (lineId: string) =>
  (await ok(`query($id: ID!) { line(id: $id) { collectionsHolds { holder barOrder { kind status } } } }`, { id: lineId })).line.collectionsHolds as {
    holder: string;
    barOrder: { kind: string; status: string } | null;
  }[];
const ordersOf = async (lineId: string) =>
  ((await ok(`query($id: ID!) { line(id: $id) { orders { kind status } } }`, { id: lineId })).line.orders as { kind: string; status: string }[]).map((o) => `${o.kind}:${o.status}`).sort();

describe('a line going live on an account held for collections', () => {
  it('is held by every holder and barred; the holders’ lifts resume it with the others', async () => {
    const { accountId, live, pending } = await accountWithPendingLine();
    dispatcher.defer = false;
    const a = await place(accountId, 'dunning-inv_na');
    expect(a.holds.map((h: { line: { id: string } }) => h.line.id), 'the PENDING line is not held yet').toEqual([live]);
    await place(accountId, 'dunning-inv_nb');
    expect(await statuses([live, pending])).toEqual(['BARRED', 'PENDING']);

    await dispatcher.fulfil(); // the NEW_LINE order completes (in-process saga)
    expect(await statuses([live, pending]), 'the new line is barred like the rest of the account').toEqual(['BARRED', 'BARRED']);
    expect((await holdsOf(pending)).sort((x, y) => x.holder.localeCompare(y.holder))).toEqual([
      { holder: 'dunning-inv_na', barOrder: { kind: 'BAR', status: 'COMPLETED' } },
      { holder: 'dunning-inv_nb', barOrder: null },
    ]);
    expect(await ordersOf(pending)).toEqual(['BAR:COMPLETED', 'NEW_LINE:COMPLETED']);

    // A retry of the first placement sees the new line's hold as its own and bars nothing more.
    const retry = await place(accountId, 'dunning-inv_na');
    expect(retry.holds.map((h: { line: { id: string } }) => h.line.id).sort()).toEqual([live, pending].sort());
    expect(await ordersOf(pending)).toEqual(['BAR:COMPLETED', 'NEW_LINE:COMPLETED']);

    expect((await lift(accountId, 'dunning-inv_na')).lines, 'inv_nb still holds both lines').toEqual([]);
    expect(await statuses([live, pending])).toEqual(['BARRED', 'BARRED']);
    const last = await lift(accountId, 'dunning-inv_nb');
    expect(last.lines.map((l: { id: string; status: string }) => [l.id, l.status]).sort()).toEqual(
      [
        [live, 'ACTIVE'],
        [pending, 'ACTIVE'],
      ].sort(),
    );
    expect(await statuses([live, pending])).toEqual(['ACTIVE', 'ACTIVE']);
  });

  it('completed through the completeOrder mutation (Temporal fulfilment), the bar is handed to fulfilment too', async () => {
    const { accountId, live, pending, newLineOrder } = await accountWithPendingLine();
    await place(accountId, 'dunning-inv_nc'); // its bar of the live line is queued with the NEW_LINE order
    const queued = dispatcher.queued.splice(0);
    dispatcher.defer = true;
    await ok(`mutation($i: OrderStepInput!) { startOrder(input: $i) { order { status } } }`, { i: { orderId: newLineOrder } }, SYSTEM);
    const done = await ok(`mutation($i: OrderStepInput!) { completeOrder(input: $i) { order { status } } }`, { i: { orderId: newLineOrder } }, SYSTEM);
    expect(done.completeOrder.order.status).toBe('COMPLETED');
    expect(dispatcher.queued, 'the new line’s BAR was handed over').toHaveLength(1);
    dispatcher.queued.push(...queued.filter((id) => id !== newLineOrder));
    dispatcher.defer = false;
    await dispatcher.fulfil();
    expect(await statuses([live, pending])).toEqual(['BARRED', 'BARRED']);
    expect((await lift(accountId, 'dunning-inv_nc')).lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(await statuses([live, pending])).toEqual(['ACTIVE', 'ACTIVE']);
  });

  it('a holder whose holds are lifted holds no new line', async () => {
    const { accountId, live, pending } = await accountWithPendingLine();
    dispatcher.defer = false;
    await place(accountId, 'dunning-inv_nd');
    await lift(accountId, 'dunning-inv_nd');
    await dispatcher.fulfil();
    expect(await statuses([live, pending])).toEqual(['ACTIVE', 'ACTIVE']);
    expect(await holdsOf(pending)).toEqual([]);
  });
});

describe('a line going live on a held account, on SQLite', () => {
  it('is held and barred, and resumed by the lift, with the same queries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-holds-new-line-'));
    const orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations });
    let t = new Date('2026-11-16T10:00:00Z').getTime();
    const now = () => new Date((t += 1000));
    const tx = <T>(work: (em: Em) => Promise<T>) => orm.em.fork().transactional((em) => work(em as Em));
    const fulfil = async (orderId: string) => {
      await tx((em) => startOrder(em, orderId, now()));
      const done = await tx((em) => completeOrder(em, orderId, now()));
      return tx((em) => ordersAfterCompletion(em, done));
    };
    try {
      const at = now();
      await tx(async (em) => {
        em.create(Customer, { id: 'cus_1', name: 'Nell', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '{}', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: at });
        await em.flush(); // rows in foreign-key order
        em.create(BillingAccount, {
          id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: at,
        });
        await em.flush();
        for (const [id, status] of [['lin_live', 'ACTIVE'], ['lin_new', 'PENDING']])
          em.create(Line, { id, billingAccountId: 'acc_1', msisdn: `+4915100${id.length}${id === 'lin_new' ? 1 : 2}`, iccid: null, imsi: null, status, planCode: null, createdAt: at, updatedAt: at });
        await em.flush();
        em.create(ProductOrder, {
          id: 'ord_new', kind: 'NEW_LINE', status: 'ACKNOWLEDGED', billingAccountId: 'acc_1', lineId: 'lin_new', request: JSON.stringify({ subscriptionId: null, activationFee: null }),
          idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: at, updatedAt: at, completedAt: null,
        });
      });
      const placed = await tx((em) => placeCollectionsHold(em, { billingAccountId: 'acc_1', holder: 'dunning-inv_s', reason: 'unpaid', idempotencyKey: 'dunning-inv_s:suspend', now: now() }));
      for (const o of placed.orders) await fulfil(o.id);

      const next = await fulfil('ord_new');
      expect(next.map((o) => [o.kind, o.status, o.lineId, o.idempotencyKey])).toEqual([['BAR', 'ACKNOWLEDGED', 'lin_new', 'dunning-inv_s:suspend:lin_new']]);
      expect(await fulfil(next[0]!.id)).toEqual([]);
      const em = orm.em.fork();
      expect((await em.find(Line, {}, { orderBy: { id: 'asc' } })).map((l) => [l.id, l.status])).toEqual([
        ['lin_live', 'BARRED'],
        ['lin_new', 'BARRED'],
      ]);
      expect((await em.find(CollectionsHold, { lineId: 'lin_new' })).map((h) => [h.holder, h.placedKey, h.barOrderId])).toEqual([['dunning-inv_s', 'dunning-inv_s:suspend', next[0]!.id]]);

      const lifted = await tx((em) => liftCollectionsHold(em, { billingAccountId: 'acc_1', holder: 'dunning-inv_s', idempotencyKey: 'dunning-inv_s:restore', now: now() }));
      expect(lifted.orders.map((o) => [o.kind, o.lineId]).sort()).toEqual([
        ['RESUME', 'lin_live'],
        ['RESUME', 'lin_new'],
      ]);
      for (const o of lifted.orders) await fulfil(o.id);
      expect((await orm.em.fork().find(Line, {}, { orderBy: { id: 'asc' } })).map((l) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
