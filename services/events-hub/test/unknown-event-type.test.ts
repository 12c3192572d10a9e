import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, scrapeMetrics, TEST_DATABASE_URL, TEST_NATS_URL, type Logger, type Messaging } from '@ledgerline/platform';
import { startEventsHub, type RunningHub } from '../src/service';
import { api, HUB, startHubForTest, startReceiver, until } from './support';

/**
 * A producer is deployed before the hub (the normal order for an additive contracts change): its events come on a
 * subject the hub's registry does not know yet. Staff and ALL-scope hubs whose query matches get them at once; an
 * OWN_CUSTOMERS partner's audience cannot be known yet, so they are held until the hub knows the type (after its
 * upgrade), then decided like any other event. Real PostgreSQL and NATS, local receivers.
 */
const RUN = randomBytes(4).toString('hex');
const SCOPE = '/tmf-api/eventManagement/v4/partnerEventScope';
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const A = { role: 'PARTNER' as const, partnerId: `mvno-a-${RUN}` };
const B = { role: 'PARTNER' as const, partnerId: `mvno-b-${RUN}` };
const WAREHOUSE = { role: 'PARTNER' as const, partnerId: `dwh-${RUN}` };
const INVOICING = 'subject=billing.invoicing.>,billing.subscribers.>';
/** A subject no registry of this repository knows: `billing.<area>.<new>.<action>`. */
const LATE_FEE = 'billing.invoicing.latefee.assessed';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
const receivers: Receiver[] = [];
const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

function capture(lines: string[]): Logger {
  return pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) as unknown as Logger;
}

async function publishOn<T>(messaging: Messaging, subject: string, type: string, data: T, time = new Date()): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type, subject: RUN, time, data, key: [RUN, subject, randomBytes(6).toString('hex')] });
  await messaging.js.publish(subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

const seen = (r: Receiver, e: CloudEvent) => r.of(e.id).length > 0;
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('an event on a subject the hub does not know yet (its producer deployed first)', () => {
  it('reaches the operator and ALL hubs at once, is held for OWN_CUSTOMERS partners, counted and logged once per type', async () => {
    const lines: string[] = [];
    const t = await startHubForTest({}, { logger: capture(lines) });
    closing.push(() => t.close());
    const [rOps, rAll, rA, rB] = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
    expect((await api(t.hub, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, ADMIN, { scope: 'ALL' })).status).toBe(200);
    // The operator's catch-all hub: empty query.
    expect((await api(t.hub, 'POST', HUB, ADMIN, { callback: rOps.url, query: '' })).status).toBe(201);
    expect((await api(t.hub, 'POST', HUB, WAREHOUSE, { callback: rAll.url, query: INVOICING })).status).toBe(201);
    const hubA = (await api(t.hub, 'POST', HUB, A, { callback: rA.url, query: INVOICING })).body.id;
    // Asks for bills only: an unknown event is not one (nothing held for it).
    const hubB = (await api(t.hub, 'POST', HUB, B, { callback: rB.url, query: 'eventType=CustomerBillCreateEvent' })).body.id;

    const account = `ba_a_${RUN}`;
    const created = await publishOn(t.messaging, EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, { billingAccountId: account, customerId: `cus_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 });
    await until('the account at A', () => seen(rA, created));
    const fees = [
      await publishOn(t.messaging, LATE_FEE, 'LateFeeCreateEvent', { lateFeeId: `lf1_${RUN}`, billingAccountId: account, amount: '5.00', currency: 'EUR' }),
      await publishOn(t.messaging, LATE_FEE, 'LateFeeCreateEvent', { lateFeeId: `lf2_${RUN}`, billingAccountId: account, amount: '7.00', currency: 'EUR' }),
    ];
    await until('the operator and the ALL partner get the unknown events', () => fees.every((e) => seen(rOps, e) && seen(rAll, e)));
    await settle();
    // The audience of an unknown type is unknown: not even the account's own partner gets it yet.
    for (const e of fees) {
      expect(seen(rA, e)).toBe(false);
      expect(seen(rB, e)).toBe(false);
    }
    const held = await t.hub.knex('unknown_type_event').whereIn('event_id', fees.map((e) => e.id)).orderBy('id');
    expect(held.map((h: any) => [h.event_id, h.subject, h.only_hub])).toEqual(fees.map((e) => [e.id, LATE_FEE, '']));
    expect(await t.hub.knex('webhook_delivery').where({ subscription_id: hubB })).toEqual([]);
    expect(await t.hub.knex('webhook_delivery').where({ subscription_id: hubA }).whereIn('event_id', fees.map((e) => e.id))).toEqual([]);
    const metrics = await scrapeMetrics({ url: `${t.hub.url}/metrics` });
    expect(metrics.ledgerline_events_hub_unknown_event_type_total).toBe(2);
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.subject === LATE_FEE && /not in the hub's event registry/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, eventType: 'LateFeeCreateEvent' });
  });
});

describe('held unknown-type events once the hub knows the type (upgrade, restart in between)', () => {
  it("after the restart each account's partner gets its own, in stream order; nobody else's; the operator nothing twice", async () => {
    const schema = `t_${randomBytes(4).toString('hex')}_events_hub`;
    closing.push(() => dropSchema(schema));
    const clock = new ManualClock(new Date());
    const env = {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      EVENTS_HUB_DB_SCHEMA: schema,
      EVENTS_HUB_PORT: '0',
      EVENTS_HUB_POLL_MS: '50',
      EVENTS_HUB_TIMEOUT_MS: '2000',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    const messaging = await connectMessaging(TEST_NATS_URL, 'events-hub-unknown-type-test');
    closing.push(() => messaging.nc.drain());

    // The hub before its upgrade: its contracts have no creditNoteCreated yet (the producer's have).
    vi.resetModules();
    vi.doMock('@ledgerline/contracts', async (importOriginal) => {
      const real = await importOriginal<typeof import('@ledgerline/contracts')>();
      const { creditNoteCreated: _unknownYet, ...older } = real.EVENTS;
      return { ...real, EVENTS: older };
    });
    let old: RunningHub | undefined;
    try {
      const before = (await import('../src/service')).startEventsHub;
      old = await before({ clock, env });
    } finally {
      vi.doUnmock('@ledgerline/contracts');
      vi.resetModules();
    }
    closing.push(() => old!.close());
    // The registry of the hub before the upgrade refuses to name the type.
    expect((await api(old, 'POST', HUB, A, { callback: 'http://127.0.0.1:1/x', query: 'eventType=CreditNoteCreateEvent' })).status).toBe(400);

    const [rOps, rAll, rA, rB] = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
    expect((await api(old, 'PUT', `${SCOPE}/${WAREHOUSE.partnerId}`, ADMIN, { scope: 'ALL' })).status).toBe(200);
    expect((await api(old, 'POST', HUB, ADMIN, { callback: rOps.url, query: '' })).status).toBe(201);
    expect((await api(old, 'POST', HUB, WAREHOUSE, { callback: rAll.url, query: INVOICING })).status).toBe(201);
    const hubA = (await api(old, 'POST', HUB, A, { callback: rA.url, query: INVOICING })).body.id;
    expect((await api(old, 'POST', HUB, B, { callback: rB.url, query: INVOICING })).status).toBe(201);

    const accA = `ba_a2_${RUN}`;
    const accB = `ba_b2_${RUN}`;
    const opened = [
      await publishOn(messaging, EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, { billingAccountId: accA, customerId: `cus_a2_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }),
      await publishOn(messaging, EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, { billingAccountId: accB, customerId: `cus_b2_${RUN}`, partnerId: B.partnerId, partnerVersion: 0 }),
    ];
    await until('both accounts placed', () => seen(rA, opened[0]!) && seen(rB, opened[1]!));
    const note = (id: string, billingAccountId: string) => ({ creditNoteId: id, number: `CN-${id}`, invoiceId: `inv_${id}`, billingAccountId, kind: 'CREDIT', total: '-2.00', currency: 'EUR' });
    const cn = EVENTS.creditNoteCreated;
    const a1 = await publishOn(messaging, cn.subject, cn.type, note(`a1_${RUN}`, accA));
    const b1 = await publishOn(messaging, cn.subject, cn.type, note(`b1_${RUN}`, accB));
    const a2 = await publishOn(messaging, cn.subject, cn.type, note(`a2_${RUN}`, accA));
    // Still unknown after the upgrade: stays held.
    const fee = await publishOn(messaging, LATE_FEE, 'LateFeeCreateEvent', { lateFeeId: `lf_${RUN}`, billingAccountId: accA, amount: '5.00', currency: 'EUR' });
    const notes = [a1, b1, a2];
    await until('the operator and ALL get the notes at once', () => [...notes, fee].every((e) => seen(rOps, e) && seen(rAll, e)));
    await settle();
    for (const e of [...notes, fee]) expect(seen(rA, e) || seen(rB, e)).toBe(false);
    // Each file reads the shared stream from its window's start: the first case's fees are held here too.
    const ours = [...notes, fee].map((e) => e.id);
    expect(await old.knex('unknown_type_event').whereIn('event_id', ours).count({ n: '*' })).toEqual([{ n: '4' }]);

    await old.close();
    // The upgraded hub on the same database: this version's contracts know creditNoteCreated.
    const upgraded = await startEventsHub({ clock, env });
    closing.push(() => upgraded.close());
    await until("each partner gets its own account's notes", () => seen(rA, a1) && seen(rA, a2) && seen(rB, b1));
    await settle();
    expect(seen(rA, b1)).toBe(false);
    expect(seen(rB, a1) || seen(rB, a2)).toBe(false);
    expect(seen(rA, fee) || seen(rB, fee)).toBe(false);
    for (const e of [...notes, fee]) {
      expect(rOps.of(e.id)).toHaveLength(1);
      expect(rAll.of(e.id)).toHaveLength(1);
    }
    // Released in stream order (the dispatcher sends without order per hub; the rows keep it).
    const rowsA = await upgraded.knex('webhook_delivery').where({ subscription_id: hubA }).whereIn('event_id', [a1.id, a2.id]).orderBy('id').select('event_id');
    expect(rowsA.map((r: any) => r.event_id)).toEqual([a1.id, a2.id]);
    const left = await upgraded.knex('unknown_type_event').whereIn('event_id', ours).select('event_id');
    expect(left.map((r: any) => r.event_id)).toEqual([fee.id]);
  });
});
