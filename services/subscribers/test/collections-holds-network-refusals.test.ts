import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, scrapeMetrics, startServiceForTest, type Em, type TestService } from '@ledgerline/platform';
import { liftCollectionsHold, placeCollectionsHold } from '../src/application/collections-holds';
import { completeOrder, failOrder, startOrder } from '../src/application/fulfil-order';
import { countUnenforcedHolds } from '../src/application/metrics';
import { BillingAccount, CollectionsHold, Customer, entities, Line } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { createSubscribersService } from '../src/service';
import { InlineOrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { retryRefusedCollectionsOrders } from '../src/application/retry-collections-orders';
import { DeferrableDispatcher } from './holds-support';
import { FileCatalog } from './support';

/**
 * Collections bars and resumptions the network refuses (review 18). A refused one fails its order:
 * the hold keeps that attempt (barOrder / resumeOrder FAILED), the request answers the line in
 * `waiting`, and asking again with the key places one new attempt (keyed after the refused one),
 * never a second bar or resumption. When nobody asks again (refused after the hand-over, as with
 * Temporal fulfilment), the service's sweep does, with backoff. The gauge shows what is not done.
 */
let svc: TestService;
let dispatcher: DeferrableDispatcher;
const sandbox = new SandboxProvisioning();
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
beforeAll(async () => {
  const catalog = new FileCatalog();
  dispatcher = new DeferrableDispatcher(new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog }));
  svc = await startServiceForTest(createSubscribersService({ catalog, provisioning: sandbox, dispatcher, sweepIntervalMs: 0, wallets: null, notifications: false }), { clock });
});
afterAll(() => svc?.close());

async function ok(q: string, v: Record<string, unknown> = {}) {
  clock.advance(1000);
  const r = await svc.request<any>(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

let msisdn = 0;
async function account(): Promise<{ accountId: string; lineId: string }> {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Nora Network", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
  const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId }))
    .openBillingAccount.billingAccount.id;
  const lineId = await addLine(accountId);
  return { accountId, lineId };
}
const addLine = async (accountId: string): Promise<string> =>
  (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m: `+49151239${String(++msisdn).padStart(5, '0')}` })).addLine.line.id;

const PAYLOAD = `holds { holder line { id } barOrder { id kind status } resumeOrder { id kind status } } lines { id status } waiting { id }`;
const place = (accountId: string, holder: string, key = `${holder}:suspend`) =>
  ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: { billingAccountId: accountId, holder, reason: 'unpaid', idempotencyKey: key } }).then(
    (d) => d.placeCollectionsHold,
  );
const lift = (accountId: string, holder: string, key = `${holder}:restore`) =>
  ok(`mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: { billingAccountId: accountId, holder, reason: 'paid', idempotencyKey: key } }).then(
    (d) => d.liftCollectionsHold,
  );
const status = async (lineId: string) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status as string;
const orders = async (lineId: string, kind: string) =>
  ((await ok(`query($id: ID!) { line(id: $id) { orders { kind status } } }`, { id: lineId })).line.orders as { kind: string; status: string }[])
    .filter((o) => o.kind === kind)
    .map((o) => o.status)
    .sort();
const ids = (lines: { id: string }[]) => lines.map((l) => l.id);
const refuse = (kind: 'BAR' | 'RESUME', on: boolean) => sandbox.behave(kind, '*', on ? { mode: 'reject', code: 'HLR_BUSY' } : null);
const unenforced = async () => {
  const m = await scrapeMetrics(svc);
  return { bar: m['ledgerline_subscribers_collections_unenforced_lines{action="bar"}'], resume: m['ledgerline_subscribers_collections_unenforced_lines{action="resume"}'] };
};
/** One pass of the service's retry sweep, its orders handed to fulfilment as the sweep does. */
async function sweep() {
  const r = await retryRefusedCollectionsOrders(svc.runtime.orm.em.fork() as Em, clock.now());
  for (const o of r.orders) await dispatcher.dispatch(o.id, svc.runtime);
  return { placed: r.orders.map((o) => o.kind), notDue: r.notDue, errors: r.errors.length };
}

describe('collections bars and resumptions the network refuses', () => {
  it('a bar refused again and again: each retry tries once more, never two bars at once, barred once the network takes it, then nothing more', async () => {
    const { accountId, lineId } = await account();
    refuse('BAR', true);
    try {
      const first = await place(accountId, 'dunning-inv_n1');
      expect({ waiting: ids(first.waiting), lines: first.lines, bar: first.holds[0].barOrder.status }).toEqual({ waiting: [lineId], lines: [], bar: 'FAILED' });
      expect(await unenforced()).toEqual({ bar: 1, resume: 0 });
      for (let i = 0; i < 2; i++) expect(ids((await place(accountId, 'dunning-inv_n1')).waiting)).toEqual([lineId]);
      expect(await status(lineId)).toBe('ACTIVE');
      expect(await orders(lineId, 'BAR')).toEqual(['FAILED', 'FAILED', 'FAILED']);

      // Two retries at once, the attempt still in flight: one attempt between them.
      dispatcher.defer = true;
      const both = await Promise.all([place(accountId, 'dunning-inv_n1'), place(accountId, 'dunning-inv_n1')]);
      expect(both.map((b) => b.holds[0].barOrder.id)[0]).toBe(both[1].holds[0].barOrder.id);
      await dispatcher.fulfil();
      dispatcher.defer = false;
      expect(await orders(lineId, 'BAR')).toEqual(['FAILED', 'FAILED', 'FAILED', 'FAILED']);
    } finally {
      refuse('BAR', false);
    }
    const done = await place(accountId, 'dunning-inv_n1');
    expect({ waiting: done.waiting, lines: done.lines, bar: done.holds[0].barOrder.status }).toEqual({ waiting: [], lines: [{ id: lineId, status: 'BARRED' }], bar: 'COMPLETED' });
    expect(await unenforced()).toEqual({ bar: 0, resume: 0 });
    // Later retries (and the sweep) replay it: no second bar.
    for (let i = 0; i < 2; i++) expect((await place(accountId, 'dunning-inv_n1')).waiting).toEqual([]);
    expect(await sweep()).toEqual({ placed: [], notDue: 0, errors: 0 });
    expect(await orders(lineId, 'BAR')).toEqual(['COMPLETED', 'FAILED', 'FAILED', 'FAILED', 'FAILED']);
    expect(await status(lineId)).toBe('BARRED');
  });

  it('the debt paid, a resumption refused twice is tried again on each retry of the lift and the line comes back', async () => {
    const { accountId, lineId } = await account();
    refuse('BAR', true);
    await place(accountId, 'dunning-inv_n2');
    refuse('BAR', false);
    expect((await place(accountId, 'dunning-inv_n2')).waiting).toEqual([]);
    expect(await status(lineId)).toBe('BARRED');

    refuse('RESUME', true);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await lift(accountId, 'dunning-inv_n2');
        expect({ waiting: ids(r.waiting), lines: r.lines, resume: r.holds[0].resumeOrder.status }).toEqual({ waiting: [lineId], lines: [], resume: 'FAILED' });
      }
      expect(await unenforced()).toEqual({ bar: 0, resume: 1 });
      // A late retry of the placement changes nothing: its hold is lifted.
      expect((await place(accountId, 'dunning-inv_n2')).waiting).toEqual([]);
      expect(await status(lineId)).toBe('BARRED');
    } finally {
      refuse('RESUME', false);
    }
    const done = await lift(accountId, 'dunning-inv_n2');
    expect({ waiting: done.waiting, lines: done.lines, resume: done.holds[0].resumeOrder.status }).toEqual({ waiting: [], lines: [{ id: lineId, status: 'ACTIVE' }], resume: 'COMPLETED' });
    expect((await lift(accountId, 'dunning-inv_n2')).waiting).toEqual([]);
    expect(await sweep()).toEqual({ placed: [], notDue: 0, errors: 0 });
    expect(await orders(lineId, 'RESUME')).toEqual(['COMPLETED', 'FAILED', 'FAILED']);
    expect(await status(lineId)).toBe('ACTIVE');
    expect(await unenforced()).toEqual({ bar: 0, resume: 0 });
  });

  it('paid before any bar went through: the lift resumes nothing, and neither a late retry nor the sweep bars the line', async () => {
    const { accountId, lineId } = await account();
    refuse('BAR', true);
    try {
      expect(ids((await place(accountId, 'dunning-inv_n3')).waiting)).toEqual([lineId]);
      const lifted = await lift(accountId, 'dunning-inv_n3');
      expect({ waiting: lifted.waiting, lines: lifted.lines }).toEqual({ waiting: [], lines: [] });
    } finally {
      refuse('BAR', false);
    }
    expect((await place(accountId, 'dunning-inv_n3')).waiting).toEqual([]);
    clock.advance(2 * 3_600_000);
    expect(await sweep()).toEqual({ placed: [], notDue: 0, errors: 0 });
    expect({ status: await status(lineId), bars: await orders(lineId, 'BAR'), resumes: await orders(lineId, 'RESUME') }).toEqual({ status: 'ACTIVE', bars: ['FAILED'], resumes: [] });
  });

  it('another dunning bars the line meanwhile: the refused hold asks for no second bar, and the line resumes when both are lifted', async () => {
    const { accountId, lineId } = await account();
    refuse('BAR', true);
    await place(accountId, 'dunning-inv_n4a');
    refuse('BAR', false);
    expect((await place(accountId, 'dunning-inv_n4b')).lines).toEqual([{ id: lineId, status: 'BARRED' }]);
    const retried = await place(accountId, 'dunning-inv_n4a');
    expect({ waiting: retried.waiting, lines: retried.lines }).toEqual({ waiting: [], lines: [] });
    expect(await orders(lineId, 'BAR')).toEqual(['COMPLETED', 'FAILED']);
    expect((await lift(accountId, 'dunning-inv_n4b')).lines).toEqual([]);
    expect(await status(lineId)).toBe('BARRED');
    expect((await lift(accountId, 'dunning-inv_n4a')).lines).toEqual([{ id: lineId, status: 'ACTIVE' }]);
  });

  it('refused after the hand-over (nobody asks again): the sweep tries again with backoff, bars and later resumes the line once', async () => {
    const { accountId, lineId } = await account();
    refuse('BAR', true);
    dispatcher.defer = true;
    const handedOver = await place(accountId, 'dunning-inv_n5');
    expect({ waiting: handedOver.waiting, lines: ids(handedOver.lines) }).toEqual({ waiting: [], lines: [lineId] }); // in flight
    await dispatcher.fulfil(); // refused
    dispatcher.defer = false;
    try {
      expect(await sweep()).toEqual({ placed: [], notDue: 1, errors: 0 }); // 1 minute after the first refusal
      clock.advance(61_000);
      expect(await sweep()).toEqual({ placed: ['BAR'], notDue: 0, errors: 0 }); // refused again
      clock.advance(61_000);
      expect(await sweep()).toEqual({ placed: [], notDue: 1, errors: 0 }); // 2 minutes after the second
      expect(await status(lineId)).toBe('ACTIVE');
    } finally {
      refuse('BAR', false);
    }
    clock.advance(61_000);
    expect(await sweep()).toEqual({ placed: ['BAR'], notDue: 0, errors: 0 });
    expect(await status(lineId)).toBe('BARRED');
    expect(await sweep()).toEqual({ placed: [], notDue: 0, errors: 0 });
    // The dunning's own retry afterwards finds it done.
    expect((await place(accountId, 'dunning-inv_n5')).waiting).toEqual([]);
    expect(await orders(lineId, 'BAR')).toEqual(['COMPLETED', 'FAILED', 'FAILED']);

    refuse('RESUME', true);
    dispatcher.defer = true;
    await lift(accountId, 'dunning-inv_n5');
    await dispatcher.fulfil();
    dispatcher.defer = false;
    refuse('RESUME', false);
    expect(await status(lineId)).toBe('BARRED');
    expect(await unenforced()).toEqual({ bar: 0, resume: 1 });
    clock.advance(61_000);
    expect(await sweep()).toEqual({ placed: ['RESUME'], notDue: 0, errors: 0 });
    expect(await status(lineId)).toBe('ACTIVE');
    expect(await orders(lineId, 'RESUME')).toEqual(['COMPLETED', 'FAILED']);
    expect(await unenforced()).toEqual({ bar: 0, resume: 0 });
  });

  it('a line gone live on a held account whose bar is refused (no caller at all) is barred by the sweep', async () => {
    const { accountId, lineId } = await account();
    dispatcher.defer = true;
    const late = await addLine(accountId); // PENDING: its NEW_LINE order not fulfilled yet
    await place(accountId, 'dunning-inv_n6');
    refuse('BAR', true);
    try {
      await dispatcher.fulfil(); // line 1's bar refused; the new line goes live, its bar refused too
    } finally {
      dispatcher.defer = false;
      refuse('BAR', false);
    }
    expect([await status(lineId), await status(late)]).toEqual(['ACTIVE', 'ACTIVE']);
    expect((await unenforced()).bar).toBe(2);
    clock.advance(61_000);
    expect(await sweep()).toEqual({ placed: ['BAR', 'BAR'], notDue: 0, errors: 0 });
    expect([await status(lineId), await status(late)]).toEqual(['BARRED', 'BARRED']);
    expect((await lift(accountId, 'dunning-inv_n6')).lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
  });
});

describe('collections refusals on SQLite', () => {
  it('the hold records the refused attempt, the gauge counts it, the sweep tries again after the backoff: the same queries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-holds-refused-'));
    const orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations });
    let t = new Date('2026-11-16T10:00:00Z').getTime();
    const now = () => new Date((t += 1000));
    const tx = <T>(work: (em: Em) => Promise<T>) => orm.em.fork().transactional((em) => work(em as Em));
    const run = async (orderId: string, refused: boolean) => {
      await tx((em) => startOrder(em, orderId, now()));
      await tx((em) => (refused ? failOrder(em, orderId, { code: 'HLR_BUSY', message: 'refused' }, now()) : completeOrder(em, orderId, now())));
    };
    const lineStatus = async () => (await orm.em.fork().findOneOrFail(Line, { id: 'lin_1' })).status;
    try {
      const at = now();
      await tx(async (em) => {
        em.create(Customer, { id: 'cus_1', name: 'Sid', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '{}', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: at });
        await em.flush();
        em.create(BillingAccount, {
          id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: at,
        });
        await em.flush();
        em.create(Line, { id: 'lin_1', billingAccountId: 'acc_1', msisdn: '+4915100000991', iccid: null, imsi: null, status: 'ACTIVE', planCode: null, createdAt: at, updatedAt: at });
      });
      const hold = { billingAccountId: 'acc_1', holder: 'dunning-inv_sq', reason: 'unpaid' };
      const placed = await tx((em) => placeCollectionsHold(em, { ...hold, idempotencyKey: 'dunning-inv_sq:suspend', now: now() }));
      await run(placed.orders[0]!.id, true);
      expect(await countUnenforcedHolds(orm.em.fork() as Em)).toEqual({ bar: 1, resume: 0 });
      expect((await retryRefusedCollectionsOrders(orm.em.fork() as Em, now())).notDue).toBe(1);
      t += 60_000;
      const retried = await retryRefusedCollectionsOrders(orm.em.fork() as Em, now());
      expect(retried.orders.map((o) => [o.kind, o.idempotencyKey])).toEqual([['BAR', `retry:${placed.orders[0]!.id}`]]);
      await run(retried.orders[0]!.id, false);
      expect([await lineStatus(), await countUnenforcedHolds(orm.em.fork() as Em)]).toEqual(['BARRED', { bar: 0, resume: 0 }]);
      expect((await orm.em.fork().findOneOrFail(CollectionsHold, { lineId: 'lin_1' })).barOrderId).toBe(retried.orders[0]!.id);

      const lifted = await tx((em) => liftCollectionsHold(em, { ...hold, reason: 'paid', idempotencyKey: 'dunning-inv_sq:restore', now: now() }));
      await run(lifted.orders[0]!.id, true);
      expect([await lineStatus(), await countUnenforcedHolds(orm.em.fork() as Em)]).toEqual(['BARRED', { bar: 0, resume: 1 }]);
      t += 60_000;
      const resumed = await retryRefusedCollectionsOrders(orm.em.fork() as Em, now());
      expect(resumed.orders.map((o) => [o.kind, JSON.parse(o.request).reason])).toEqual([['RESUME', 'paid']]);
      await run(resumed.orders[0]!.id, false);
      expect([await lineStatus(), await countUnenforcedHolds(orm.em.fork() as Em)]).toEqual(['ACTIVE', { bar: 0, resume: 0 }]);
      expect((await retryRefusedCollectionsOrders(orm.em.fork() as Em, now())).orders).toEqual([]);
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
