import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertDeliveries } from '../src/persistence/store';
import { pruneDeliveries } from '../src/application/prune-deliveries';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'cancel-p' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  // One POST in flight at a time, so a batch's later deliveries wait (claimed, leased) behind a slow receiver.
  t = await startHubForTest({ EVENTS_HUB_CONCURRENCY: '1' });
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const rowsOf = async (hubId: string) =>
  (await t.hub.knex('webhook_delivery').where({ subscription_id: hubId }).orderBy('id')) as { id: string; event_id: string; status: string; attempts: number }[];

const ping = (eventId: string) => ({
  eventId,
  generation: 0,
  subject: 'billing.catalog.system.ping',
  eventType: 'SystemPingEvent',
  payload: JSON.stringify({ id: eventId, type: 'SystemPingEvent' }),
});

describe('DELETE of a hub cancels what it still had to send', () => {
  it('pending and retrying deliveries become CANCELLED: not sent afterwards, not dead letters', async () => {
    receiver.status = 500;
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    // A retrying delivery (one failed attempt, due again in ~5 s) …
    const retrying = await publishPing(t.messaging);
    await until('the first failed attempt', async () => (await rowsOf(hub.id)).some((r) => r.event_id === retrying.id && r.attempts === 1));
    // … and a pending one not yet due (stored directly, due in an hour).
    await insertDeliveries(t.hub.knex, [{ subscriptionId: hub.id, ...ping('evt_cancel_later') }], new Date(t.clock.now().getTime() + 3_600_000));
    // CANCELLED is a status one may list by.
    expect((await api(t.hub, 'GET', `${HUB}/${hub.id}/deliveries?status=CANCELLED`, PARTNER)).status).toBe(200);
    const sentBefore = receiver.received.length;

    expect((await api(t.hub, 'DELETE', `${HUB}/${hub.id}`, PARTNER)).status).toBe(204);
    expect((await rowsOf(hub.id)).map((r) => [r.event_id, r.status])).toEqual([
      [retrying.id, 'CANCELLED'],
      ['evt_cancel_later', 'CANCELLED'],
    ]);

    // The receiver would now accept, and both would be due: nothing arrives.
    receiver.status = 200;
    t.clock.advance(2 * 3_600_000);
    t.hub.wake();
    await new Promise((r) => setTimeout(r, 600));
    expect(receiver.received.length).toBe(sentBefore);
    expect((await rowsOf(hub.id)).every((r) => r.status === 'CANCELLED')).toBe(true);
    const metrics = await (await fetch(`${t.hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ledgerline_events_hub_dead_letters\{service="events-hub"\} 0$/m);
  });

  it('a delivery claimed (leased) before the delete is not sent after it: the dispatcher checks at send time', async () => {
    const held: http.ServerResponse[] = [];
    const seen: string[] = [];
    const slow = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id);
        held.push(res); // answers only when the test lets it
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/hooks`;
      const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: url, query: 'eventType=SystemPingEvent' })).body;
      await insertDeliveries(t.hub.knex, [{ subscriptionId: hub.id, ...ping('evt_leased_1') }, { subscriptionId: hub.id, ...ping('evt_leased_2') }], t.clock.now());
      t.hub.wake();
      // One pass claimed both; the first is at the receiver, the second waits behind it, leased.
      await until('the first POST', () => held.length === 1);
      const leased = await rowsOf(hub.id);
      expect(leased.every((r) => r.status === 'PENDING')).toBe(true);

      expect((await api(t.hub, 'DELETE', `${HUB}/${hub.id}`, PARTNER)).status).toBe(204);
      held[0]!.writeHead(200).end();
      // The in-flight one is answered; the queued one comes up for sending and must be dropped.
      await until('the first delivery recorded', async () => (await rowsOf(hub.id))[0]!.status !== 'PENDING' && (await rowsOf(hub.id))[0]!.attempts === 1);
      await new Promise((r) => setTimeout(r, 600));
      expect(seen).toEqual([seen[0]]);
      const rows = await rowsOf(hub.id);
      const second = rows.find((r) => r.event_id !== seen[0])!;
      expect(second).toMatchObject({ status: 'CANCELLED', attempts: 0 });
      // The one already at the receiver when the hub was deleted reached it: the record says so.
      expect(rows.find((r) => r.event_id === seen[0])).toMatchObject({ status: 'DELIVERED', attempts: 1 });
    } finally {
      for (const res of held) if (!res.writableEnded) res.writeHead(200).end();
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });
});

describe('a delivery a deleted hub still got (an event recorded as the delete committed)', () => {
  it('is cancelled by the next retention pass, not left PENDING for ever', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    expect((await api(t.hub, 'DELETE', `${HUB}/${hub.id}`, PARTNER)).status).toBe(204);
    // The straggler: inserted after the delete, as a transaction begun before it would.
    await insertDeliveries(t.hub.knex, [{ subscriptionId: hub.id, ...ping('evt_after_delete') }], t.clock.now());
    // The service's own pass (once a minute) or this one cancels it.
    await pruneDeliveries({ knex: t.hub.knex }, t.clock.now(), { deliveredHours: 168, deadHours: 720 });
    expect((await rowsOf(hub.id)).map((r) => [r.event_id, r.status])).toEqual([['evt_after_delete', 'CANCELLED']]);
  });
});
