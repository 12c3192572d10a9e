import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent, type EventName } from '@ledgerline/contracts';
import { api, HUB, startHubForTest, startReceiver, until } from './support';

/**
 * "Hub partner move race": an account moves from partner A to B (billingaccount.changed, on the stream first), then
 * an event about it (a bill, later in time and on the stream). The hub places accounts from its billingaccount durable;
 * the bill comes on another durable. When the bill was read before the hub had read the move (the billingaccount
 * durable behind: here held up by a lock on another account's row in its batch), the hub decided with what it knew,
 * A, and A got B's customer's bill. Now the intake waits for the billingaccount durable to have read the stream up to
 * the batch before it decides for partner hubs. Real PostgreSQL, NATS, receivers.
 */
const RUN = randomBytes(4).toString('hex');
const A = { role: 'PARTNER' as const, partnerId: `mvno-a-${RUN}` };
const B = { role: 'PARTNER' as const, partnerId: `mvno-b-${RUN}` };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const ACC = `ba_moved_${RUN}`;
const OTHER = `ba_other_${RUN}`;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
let t: Awaited<ReturnType<typeof startHubForTest>>;
let rA: Receiver, rB: Receiver, rOps: Receiver;

async function publish<T>(name: EventName, data: T, time = new Date()): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/move-race-test', type: EVENTS[name].type, subject: RUN, time, data, key: [RUN, name, randomBytes(6).toString('hex')] });
  await t.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

beforeAll(async () => {
  t = await startHubForTest();
  [rA, rB, rOps] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
  const query = 'subject=billing.subscribers.billingaccount.*,billing.invoicing.>';
  for (const [who, r] of [[A, rA], [B, rB], [ADMIN, rOps]] as const) expect((await api(t.hub, 'POST', HUB, who, { callback: r.url, query })).status).toBe(201);
});

afterAll(async () => {
  await t?.close();
  await Promise.all([rA, rB, rOps].map((r) => r?.close()));
});

describe('an account moved between partners while the hub reads its events', () => {
  it("the bill after the move goes to B only, also when it is read before the hub read the move", async () => {
    const opened = await publish('billingAccountCreated', { billingAccountId: ACC, customerId: `cus_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
    await until('A and the operator get the opening', () => rA.of(opened.id).length === 1 && rOps.of(opened.id).length === 1);

    // Hold up whoever records another account's placement (the billingaccount durable's next batch holds it): the
    // exclusive lock placements take, from a connection of the test's.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = t.hub.knex.transaction(async (trx) => {
      await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.account_partner:' || ?))`, [OTHER]);
      locked();
      await released;
    });
    await isLocked;
    try {
      await publish('billingAccountCreated', { billingAccountId: OTHER, customerId: `cus_o_${RUN}`, partnerId: null, partnerVersion: 0 });
      const move = await publish('billingAccountChanged', { billingAccountId: ACC, customerId: `cus_${RUN}`, partnerId: B.partnerId, partnerVersion: 1, changed: ['partnerId'] }, new Date(Date.now() - 1000));
      const bill = await publish('customerBillCreated', { invoiceId: `inv_${RUN}`, number: `N-${RUN}`, billingAccountId: ACC, total: '10.00', currency: 'EUR' });
      // Long enough for the invoicing durable to have read and decided the bill on its own.
      await new Promise((r) => setTimeout(r, 1500));
      expect(rA.of(bill.id), "A got B's customer's bill").toHaveLength(0);
      release();
      await holder;
      await until('B and the operator get the bill, both partners the move', () => rB.of(bill.id).length === 1 && rOps.of(bill.id).length === 1 && rA.of(move.id).length === 1 && rB.of(move.id).length === 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(rA.of(bill.id)).toHaveLength(0);
      expect(rOps.of(bill.id)).toHaveLength(1);
    } finally {
      release();
      await holder.catch(() => undefined);
    }
  });

  it('a batch that gives up waiting for the billingaccount durable is counted (ledgerline_events_hub_batches_waiting_for_accounts_total), then delivered on its redelivery', async () => {
    const waited = async () => Number((await (await fetch(`${t.hub.url}/metrics`)).text()).match(/^ledgerline_events_hub_batches_waiting_for_accounts_total\{[^}]*\} (\d+)$/m)?.[1] ?? NaN);
    const before = await waited();
    expect(before).toBeGreaterThanOrEqual(0);
    const acc = `ba_stall_${RUN}`;
    const other = `ba_stall_other_${RUN}`;
    const opened = await publish('billingAccountCreated', { billingAccountId: acc, customerId: `cus_s_${RUN}`, partnerId: B.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
    await until('B gets the opening', () => rB.of(opened.id).length === 1);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = t.hub.knex.transaction(async (trx) => {
      await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.account_partner:' || ?))`, [other]);
      locked();
      await released;
    });
    await isLocked;
    try {
      await publish('billingAccountCreated', { billingAccountId: other, customerId: `cus_so_${RUN}`, partnerId: null, partnerVersion: 0 });
      const bill = await publish('customerBillCreated', { invoiceId: `inv_s_${RUN}`, number: `NS-${RUN}`, billingAccountId: acc, total: '10.00', currency: 'EUR' });
      // Past the 2 s the batch waits: it fails (redelivered) and is counted.
      await until('the stalled batch is counted', async () => (await waited()) > before, 10_000);
      expect(rB.of(bill.id)).toHaveLength(0);
      release();
      await holder;
      await until('B gets the bill once the billingaccount durable caught up', () => rB.of(bill.id).length === 1);
    } finally {
      release();
      await holder.catch(() => undefined);
    }
  });

  it("a replay does not send a partner an event of an account that left it before the event, read before the hub read the move", async () => {
    // A second hub of A's that does not read billingaccount events: its replay cannot place the move itself.
    const rA2 = await startReceiver();
    try {
      const hubA2 = await api(t.hub, 'POST', HUB, A, { callback: rA2.url, query: 'subject=billing.invoicing.>' });
      expect(hubA2.status).toBe(201);
      const from = new Date(t.clock.now().getTime() - 1000).toISOString();
      const acc = `ba_replay_${RUN}`;
      const other = `ba_replay_other_${RUN}`;
      const opened = await publish('billingAccountCreated', { billingAccountId: acc, customerId: `cus_r_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
      await until('A gets the opening', () => rA.of(opened.id).length === 1);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = t.hub.knex.transaction(async (trx) => {
        await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.account_partner:' || ?))`, [other]);
        locked();
        await released;
      });
      await isLocked;
      let bill: CloudEvent | undefined;
      try {
        await publish('billingAccountCreated', { billingAccountId: other, customerId: `cus_ro_${RUN}`, partnerId: null, partnerVersion: 0 });
        await publish('billingAccountChanged', { billingAccountId: acc, customerId: `cus_r_${RUN}`, partnerId: B.partnerId, partnerVersion: 1, changed: ['partnerId'] }, new Date(Date.now() - 1000));
        bill = await publish('customerBillCreated', { invoiceId: `inv_r_${RUN}`, number: `NR-${RUN}`, billingAccountId: acc, total: '10.00', currency: 'EUR' });
        // The billingaccount durable is held up: the replay must not decide the bill with the map as it is (A).
        const replay = await api(t.hub, 'POST', `${HUB}/${hubA2.body.id}/replay`, A, { from });
        await new Promise((r) => setTimeout(r, 500));
        expect(rA2.of(bill.id), "A's replay got B's customer's bill").toHaveLength(0);
        // Refused, to be asked again (the hub's billingaccount consumer behind), rather than sent on what the hub knows.
        expect(replay.status).toBe(500);
        expect(replay.body).toMatchObject({ code: 'HUB_REPLAY_ACCOUNTS_BEHIND', reason: 'INTERNAL' });
      } finally {
        release();
        await holder.catch(() => undefined);
      }
      await until('B gets the bill', () => rB.of(bill!.id).length === 1);
      // Caught up: the replay goes ahead, and the bill is B's.
      expect((await api(t.hub, 'POST', `${HUB}/${hubA2.body.id}/replay`, A, { from })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 1000));
      expect(rA2.of(bill.id)).toHaveLength(0);
    } finally {
      await rA2.close();
    }
  });
});
