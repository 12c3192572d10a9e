import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent, type EventName } from '@ledgerline/contracts';
import { api, startHubForTest, startReceiver, until } from './support';

/**
 * Partners are MVNOs: a billing account is assigned to a partner (billingaccount.created/changed partnerId). A
 * partner's hub gets events about its own customers' accounts only, unless staff granted it the event scope ALL
 * (the operator's CRM, data warehouse); an ADMIN's hub without a partner is the operator's and gets everything;
 * catalog events are everyone's. Real PostgreSQL and NATS, local receivers.
 */
const RUN = randomBytes(4).toString('hex');
const SCOPE = '/tmf-api/eventManagement/v4/partnerEventScope';
const HUB = '/tmf-api/eventManagement/v4/hub';
const A = { role: 'PARTNER' as const, partnerId: `mvno-a-${RUN}` };
const B = { role: 'PARTNER' as const, partnerId: `mvno-b-${RUN}` };
const WAREHOUSE = { role: 'PARTNER' as const, partnerId: `dwh-${RUN}` };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };

const ACC_A = `ba_a_${RUN}`;
const ACC_B = `ba_b_${RUN}`;
const ACC_OP = `ba_op_${RUN}`;
const ACC_LATE = `ba_late_${RUN}`;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
let t: Awaited<ReturnType<typeof startHubForTest>>;
let rA: Receiver, rB: Receiver, rAll: Receiver, rOps: Receiver;
const hubs: Record<'a' | 'b' | 'all' | 'ops', string> = { a: '', b: '', all: '', ops: '' };
let startedAt: Date;

async function publish<T>(name: EventName, data: T, time = new Date()): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/visibility-test', type: EVENTS[name].type, subject: RUN, time, data, key: [RUN, name, randomBytes(6).toString('hex')] });
  await t.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

/** Every delivery row of a hub (all pages): what the partner can see through the API. */
async function deliveryRows(hubId: string, as: object): Promise<{ eventId: string; generation: number }[]> {
  const found: { eventId: string; generation: number }[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = (await api(t.hub, 'GET', `${HUB}/${hubId}/deliveries?limit=500&offset=${offset}`, as as any)).body as any[];
    found.push(...page);
    if (page.length < 500) return found;
  }
}
const seen = (r: Receiver, e: CloudEvent) => r.of(e.id).length > 0;
const allSeen = (r: Receiver, events: CloudEvent[]) => events.every((e) => seen(r, e));

beforeAll(async () => {
  t = await startHubForTest();
  [rA, rB, rAll, rOps] = await Promise.all([startReceiver(), startReceiver(), startReceiver(), startReceiver()]);
  // From the hub's clock (set when it started): a replay from a later instant is refused as in the future, and the
  // hub's start-up (migrations) can take more than a second under load.
  startedAt = new Date(t.clock.now().getTime() - 1000);
  // Every event but the ping, which other test files publish by the thousand on the shared stream.
  const query = 'subject=billing.subscribers.>,billing.usage.>,billing.wallets.>,billing.invoicing.>,billing.catalog.plan.*,billing.catalog.offer.*';
  hubs.a = (await api(t.hub, 'POST', HUB, A, { callback: rA.url, query })).body.id;
  hubs.b = (await api(t.hub, 'POST', HUB, B, { callback: rB.url, query })).body.id;
  hubs.all = (await api(t.hub, 'POST', HUB, WAREHOUSE, { callback: rAll.url, query })).body.id;
  hubs.ops = (await api(t.hub, 'POST', HUB, ADMIN, { callback: rOps.url, query })).body.id;
  expect(Object.values(hubs).every(Boolean)).toBe(true);
});

afterAll(async () => {
  await t?.close();
  await Promise.all([rA, rB, rAll, rOps].map((r) => r?.close()));
});

describe('partner event scope (ADMIN only, audited)', () => {
  it('is set by an ADMIN only; a partner reads its own; a bad scope is a 400 naming scope', async () => {
    const byPartner = await api(t.hub, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, WAREHOUSE, { scope: 'ALL' });
    expect(byPartner.status).toBe(403);
    expect(byPartner.body).toMatchObject({ code: 'HUB_FORBIDDEN' });
    expect((await api(t.hub, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, null, { scope: 'ALL' })).status).toBe(401);
    const bad = await api(t.hub, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, ADMIN, { scope: 'EVERYTHING' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'EVENT_SCOPE_INVALID', field: 'scope' });
    // Without a row a partner is OWN_CUSTOMERS.
    expect((await api(t.hub, 'GET', `${SCOPE}/${A.partnerId}`, A)).body).toMatchObject({ partnerId: A.partnerId, scope: 'OWN_CUSTOMERS', grantedBy: null });
    const granted = await api(t.hub, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, ADMIN, { scope: 'ALL' });
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ partnerId: WAREHOUSE.partnerId, scope: 'ALL', grantedBy: 'ops-lead' });
    // Another partner's scope is not the partner's business (404, as another's hub).
    expect((await api(t.hub, 'GET', `${SCOPE}/${WAREHOUSE.partnerId}`, A)).status).toBe(404);
    const read = await api(t.hub, 'GET', `${SCOPE}/${WAREHOUSE.partnerId}`, ADMIN);
    expect(read.body).toMatchObject({ scope: 'ALL', history: [expect.objectContaining({ scope: 'ALL', previousScope: null, changedBy: 'ops-lead', changedByRole: 'ADMIN' })] });
  });
});

describe('events about a billing account go to the partner whose customer it is', () => {
  const own: Record<'a' | 'b' | 'op', CloudEvent[]> = { a: [], b: [], op: [] };

  it("partner A's hub gets A's customers' events only, not B's nor the operator's; ALL and the ADMIN hub get all", async () => {
    own.a.push(await publish('billingAccountCreated', { billingAccountId: ACC_A, customerId: `cus_a_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }));
    own.b.push(await publish('billingAccountCreated', { billingAccountId: ACC_B, customerId: `cus_b_${RUN}`, partnerId: B.partnerId, partnerVersion: 0 }));
    own.op.push(await publish('billingAccountCreated', { billingAccountId: ACC_OP, customerId: `cus_op_${RUN}`, partnerId: null, partnerVersion: 0 }));
    await until('the accounts announced to the operator', () => allSeen(rOps, [...own.a, ...own.b, ...own.op]));
    for (const [key, acc] of [['a', ACC_A], ['b', ACC_B], ['op', ACC_OP]] as const) {
      own[key].push(await publish('customerBillCreated', { invoiceId: `inv_${acc}`, number: `N-${acc}`, billingAccountId: acc, total: '10.00', currency: 'EUR' }));
      own[key].push(await publish('balanceLow', { walletId: `w_${acc}`, billingAccountId: acc, balance: { amount: '1.00', currency: 'EUR' } }));
      own[key].push(await publish('usageThresholdReached', { lineId: `l_${acc}`, billingAccountId: acc, threshold: 80 }));
    }
    const everything = [...own.a, ...own.b, ...own.op];
    await until('every event at the operator and the ALL partner', () => allSeen(rOps, everything) && allSeen(rAll, everything));
    await until("A's and B's own events", () => allSeen(rA, own.a) && allSeen(rB, own.b));
    await new Promise((r) => setTimeout(r, 300));
    for (const e of [...own.b, ...own.op]) expect(seen(rA, e), `A got ${e.type} of another`).toBe(false);
    for (const e of [...own.a, ...own.op]) expect(seen(rB, e), `B got ${e.type} of another`).toBe(false);
    // Nothing of another's customer is stored for A's hub either: not in its deliveries, counts or errors.
    const rowsA = new Set((await deliveryRows(hubs.a, A)).map((d) => d.eventId));
    for (const e of [...own.b, ...own.op]) expect(rowsA.has(e.id)).toBe(false);
    for (const e of own.a) expect(rowsA.has(e.id)).toBe(true);
  });

  it('catalog events go to every partner; events about no account only to the operator and ALL', async () => {
    const plan = await publish('planPublished', { planId: `pl_${RUN}`, code: 'P', version: 1 });
    const offer = await publish('offerRetired', { code: `o_${RUN}`, reason: 'x', retiredAt: new Date().toISOString() });
    const customer = await publish('customerCreated', { customerId: `cus_new_${RUN}`, kind: 'INDIVIDUAL' });
    const unapplied = await publish('paymentUnapplied', { unappliedPaymentId: `up_${RUN}`, payerName: 'Someone', amount: '5.00' });
    // No billingAccountId where one is expected: nobody's account, so not a partner's.
    const noAccount = await publish('balanceDepleted', { walletId: `w_none_${RUN}` });
    await until('catalog events at every hub', () => [rA, rB, rAll, rOps].every((r) => allSeen(r, [plan, offer])));
    await until('account-less events at the operator and ALL', () => allSeen(rOps, [customer, unapplied, noAccount]) && allSeen(rAll, [customer, unapplied, noAccount]));
    await new Promise((r) => setTimeout(r, 300));
    for (const e of [customer, unapplied, noAccount]) {
      expect(seen(rA, e)).toBe(false);
      expect(seen(rB, e)).toBe(false);
    }
  });

  it("an event about an account the hub has not placed yet is held, then goes to its partner once billingaccount.created is read", async () => {
    const bill = await publish('customerBillCreated', { invoiceId: `inv_late_${RUN}`, billingAccountId: ACC_LATE, total: '3.00', currency: 'EUR' });
    await until('the operator gets it at once', () => seen(rOps, bill) && seen(rAll, bill));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen(rA, bill)).toBe(false);
    expect((await deliveryRows(hubs.a, A)).some((d) => d.eventId === bill.id)).toBe(false);
    // Its account is A's, opened before the bill (the account's event read after it).
    const created = await publish('billingAccountCreated', { billingAccountId: ACC_LATE, customerId: `cus_late_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
    await until('A gets the held bill once the account is placed', () => seen(rA, bill) && seen(rA, created));
    own.a.push(bill, created);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen(rB, bill)).toBe(false);
    expect(rOps.of(bill.id)).toHaveLength(1);
  });

  const afterMove: CloudEvent[] = [];
  it('an account moved from A to B: both hear of the move, later events go to B only', async () => {
    const move = await publish('billingAccountChanged', { billingAccountId: ACC_A, customerId: `cus_a_${RUN}`, partnerId: B.partnerId, partnerVersion: 1, changed: ['partnerId'] });
    await until('B and A told of the move', () => seen(rB, move) && seen(rA, move));
    afterMove.push(await publish('paymentCreated', { paymentId: `pay_${RUN}`, billingAccountId: ACC_A, invoiceId: `inv_${ACC_A}`, amount: '10.00', currency: 'EUR' }));
    afterMove.push(await publish('customerBillDunningNotice', { invoiceId: `inv_${ACC_A}`, billingAccountId: ACC_A, notice: 'REMINDER' }));
    await until('B gets the account’s later events', () => allSeen(rB, afterMove) && allSeen(rOps, afterMove));
    await new Promise((r) => setTimeout(r, 300));
    for (const e of afterMove) expect(seen(rA, e)).toBe(false);
  });

  it("a replay applies the same filter: A's replay gives A's customers' events of their time with A, never B's or the operator's", async () => {
    const replayA = await api(t.hub, 'POST', `${HUB}/${hubs.a}/replay`, A, { from: startedAt.toISOString() });
    expect(replayA.status).toBe(202);
    const replayB = await api(t.hub, 'POST', `${HUB}/${hubs.b}/replay`, B, { from: startedAt.toISOString() });
    expect(replayB.status).toBe(202);
    const genA = replayA.body.generation as number;
    const genB = replayB.body.generation as number;
    await until("A's replayed events delivered", () => own.a.every((e) => rA.of(e.id).length >= 2));
    const rowsA = (await deliveryRows(hubs.a, A)).filter((d) => d.generation === genA).map((d) => d.eventId);
    const rowsB = (await deliveryRows(hubs.b, B)).filter((d) => d.generation === genB).map((d) => d.eventId);
    for (const e of own.a) expect(rowsA).toContain(e.id);
    for (const e of [...own.b, ...own.op, ...afterMove]) expect(rowsA).not.toContain(e.id);
    for (const e of [...own.b, ...afterMove]) expect(rowsB).toContain(e.id);
    // A's bill from before the move stays A's (the owner at the event's time), the operator's stays the operator's.
    for (const e of [...own.a.filter((e) => e.type === 'CustomerBillCreateEvent'), ...own.op]) expect(rowsB).not.toContain(e.id);
  });
});

describe('an account never placed', () => {
  it('its held events are dropped after EVENTS_HUB_UNPLACED_HOLD_HOURS, counted, and never reach a partner', async () => {
    const never = `ba_never_${RUN}`;
    const bill = await publish('customerBillCreated', { invoiceId: `inv_never_${RUN}`, billingAccountId: never, total: '1.00', currency: 'EUR' });
    await until('the operator gets it', () => seen(rOps, bill));
    await until('it is held for the partner hubs', async () => (await t.hub.knex('held_event').where({ event_id: bill.id })).length === 1);
    t.clock.advance(25 * 3_600_000);
    t.hub.wake();
    await until('the hold ends', async () => (await t.hub.knex('held_event').where({ event_id: bill.id })).length === 0);
    const metrics = await (await fetch(`${t.hub.url}/metrics`)).text();
    expect(metrics).toMatch(/ledgerline_events_hub_unplaced_events_dropped_total\{service="events-hub"\} [1-9]/);
    // Placed afterwards: too late, A does not get it.
    const created = await publish('billingAccountCreated', { billingAccountId: never, customerId: `cus_never_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
    await until('A gets the account event itself', () => seen(rA, created));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen(rA, bill)).toBe(false);
  });
});
