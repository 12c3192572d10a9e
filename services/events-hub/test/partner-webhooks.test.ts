import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER_A = { role: 'PARTNER' as const, partnerId: 'crm-a' };
const PARTNER_B = { role: 'PARTNER' as const, partnerId: 'psp-b' };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let failing: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest({ EVENTS_HUB_MAX_ATTEMPTS: '3' });
  receiver = await startReceiver();
  failing = await startReceiver();
  failing.status = 500;
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await failing?.close();
});

const deliveriesOf = async (hubId: string, as: object, query = '') => (await api(t.hub, 'GET', `${HUB}/${hubId}/deliveries${query}`, as as any)).body as any[];
/**
 * One event's deliveries to a hub, through every page: the stream is shared, so a hub on SystemPingEvent also gets
 * every ping other test files publish meanwhile (thousands from replay-read-bound), and the newest-first first page
 * may not reach this event's rows.
 */
async function deliveriesOfEvent(hubId: string, as: object, eventId: string): Promise<any[]> {
  const found: any[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await deliveriesOf(hubId, as, `?limit=500&offset=${offset}`);
    found.push(...page.filter((d) => d.eventId === eventId));
    if (page.length < 500) return found;
  }
}

describe('partner webhooks (TMF688 hub)', () => {
  it('refuses callers without a token (401) and callers that are not partners or admins (403), with coded errors', async () => {
    const anonymous = await api(t.hub, 'GET', HUB, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    const forged = await fetch(`${t.hub.url}${HUB}`, { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(forged.status).toBe(401);
    const customer = await api(t.hub, 'POST', HUB, { role: 'CUSTOMER', customerId: 'cus_1' }, { callback: receiver.url });
    expect(customer.status).toBe(403);
    expect(customer.body).toMatchObject({ code: 'HUB_FORBIDDEN' });
    expect((await api(t.hub, 'GET', HUB, { role: 'PARTNER' })).status).toBe(403);
  });

  it('refuses a bad callback, an unknown event type and work subjects with a 400 naming the field', async () => {
    const notUrl = await api(t.hub, 'POST', HUB, PARTNER_A, { callback: 'not a url', query: 'eventType=CustomerBillCreateEvent' });
    expect(notUrl.status).toBe(400);
    expect(notUrl.body).toMatchObject({ code: 'HUB_CALLBACK_INVALID', field: 'callback' });
    expect((await api(t.hub, 'POST', HUB, PARTNER_A, { callback: 'ftp://example.com/x' })).body).toMatchObject({ field: 'callback' });
    const unknownType = await api(t.hub, 'POST', HUB, PARTNER_A, { callback: receiver.url, query: 'eventType=CustomerBillCreateEvent,NoSuchEvent' });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body).toMatchObject({ code: 'HUB_QUERY_INVALID', field: 'query.eventType' });
    expect(unknownType.body.message).toContain('NoSuchEvent');
    for (const work of ['billing.usage.ingest.p3', 'billing.usage.charge.requested', 'billing.wallets.charge.applied', 'billing.usage.ingest.*']) {
      const refused = await api(t.hub, 'POST', HUB, PARTNER_A, { callback: receiver.url, query: `subject=${work}` });
      expect(refused.status, work).toBe(400);
      expect(refused.body).toMatchObject({ field: 'query.subject' });
    }
    expect((await api(t.hub, 'POST', HUB, PARTNER_A, { callback: receiver.url, query: 'type=x' })).body).toMatchObject({ field: 'query' });
  });

  let hubA: { id: string; secret: string };
  let first: Awaited<ReturnType<typeof publishPing>>;
  let beforeFirst: Date;

  it('delivers an event once, signed with HMAC-SHA256 over timestamp.body, even when the NATS message comes twice', async () => {
    const created = await api(t.hub, 'POST', HUB, PARTNER_A, { callback: receiver.url, query: 'subject=billing.catalog.system.ping' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^hub_/),
      callback: receiver.url,
      query: 'subject=billing.catalog.system.ping',
      secret: expect.any(String),
    });
    hubA = created.body;
    beforeFirst = new Date(Date.now() - 1000);

    first = await publishPing(t.messaging);
    const [got] = await until('the first delivery', () => (receiver.of(first.id).length ? receiver.of(first.id) : null));
    expect(got!.headers['content-type']).toBe('application/cloudevents+json');
    expect(got!.event).toMatchObject({ id: first.id, type: 'SystemPingEvent', specversion: '1.0' });
    const timestamp = got!.headers['x-ledgerline-timestamp'] as string;
    expect(Number(timestamp)).toBe(Math.floor(t.clock.now().getTime() / 1000));
    const expected = `sha256=${createHmac('sha256', hubA.secret).update(`${timestamp}.${got!.body}`).digest('hex')}`;
    expect(got!.headers['x-ledgerline-signature']).toBe(expected);
    expect(createHmac('sha256', 'another secret').update(`${timestamp}.${got!.body}`).digest('hex')).not.toBe(expected.slice(7));

    // The same CloudEvent again on the stream (a redelivered or re-published message: other Nats-Msg-Id),
    // then a marker event behind it on the same consumer: once the marker arrived, the duplicate was handled.
    await publishPing(t.messaging, first, `${first.id}-again`);
    const marker = await publishPing(t.messaging);
    await until('the marker', () => receiver.of(marker.id).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.of(first.id)).toHaveLength(1);
    const rows = await deliveriesOfEvent(hubA.id, PARTNER_A, first.id);
    expect(rows).toEqual([expect.objectContaining({ status: 'DELIVERED', attempts: 1, generation: 0 })]);
  });

  it('retries a failing receiver with exponential backoff on the clock, dead-letters it after N attempts, and delivers it on retry', async () => {
    const created = await api(t.hub, 'POST', HUB, PARTNER_B, { callback: failing.url, query: 'eventType=SystemPingEvent' });
    expect(created.status).toBe(201);
    const hubId = created.body.id as string;
    const event = await publishPing(t.messaging);
    const row = async () => (await deliveriesOf(hubId, PARTNER_B)).find((d) => d.eventId === event.id);

    const afterFirst = await until('the first failed attempt', async () => ((await row())?.attempts === 1 ? row() : null));
    expect(afterFirst).toMatchObject({ status: 'PENDING', lastStatusCode: 500, lastError: 'HTTP 500' });
    const wait = new Date(afterFirst.nextAttemptAt).getTime() - t.clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(4_000); // 5 s ± 20 %
    expect(wait).toBeLessThanOrEqual(6_000);
    await new Promise((r) => setTimeout(r, 400)); // the clock has not moved: nothing is due
    expect((await row())!.attempts).toBe(1);
    expect(failing.of(event.id)).toHaveLength(1);

    t.clock.advance(6_001);
    t.hub.wake();
    const afterSecond = await until('the second attempt', async () => ((await row())?.attempts === 2 ? row() : null));
    const secondWait = new Date(afterSecond.nextAttemptAt).getTime() - t.clock.now().getTime();
    expect(secondWait).toBeGreaterThanOrEqual(8_000); // doubled: 10 s ± 20 %
    expect(secondWait).toBeLessThanOrEqual(12_000);

    t.clock.advance(12_001);
    t.hub.wake();
    const dead = await until('the dead letter', async () => ((await row())?.status === 'DEAD' ? row() : null));
    expect(dead).toMatchObject({ attempts: 3, nextAttemptAt: null });
    expect(failing.of(event.id)).toHaveLength(3);
    expect((await deliveriesOf(hubId, PARTNER_B, '?status=DEAD')).map((d) => d.eventId)).toContain(event.id);
    expect((await deliveriesOf(hubId, PARTNER_B, '?status=PENDING')).map((d) => d.eventId)).not.toContain(event.id);
    const metrics = await (await fetch(`${t.hub.url}/metrics`)).text();
    expect(metrics).toMatch(/ledgerline_events_hub_deliveries_total\{outcome="DEAD",service="events-hub"\} [1-9]/);
    expect(metrics).toMatch(/ledgerline_events_hub_dead_letters\{service="events-hub"\} [1-9]/);

    failing.status = 204;
    const retried = await api(t.hub, 'POST', `${HUB}/${hubId}/deliveries/${dead.id}/retry`, PARTNER_B);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: 'PENDING', attempts: 0 });
    await until('the retried delivery', async () => (await row())?.status === 'DELIVERED');
    expect(failing.of(event.id)).toHaveLength(4);
    const again = await api(t.hub, 'POST', `${HUB}/${hubId}/deliveries/${dead.id}/retry`, PARTNER_B);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'WEBHOOK_DELIVERY_ILLEGAL_TRANSITION' });
  });

  it('replays the stream from an instant: a new generation re-sends delivered events under the same CloudEvent id', async () => {
    const before = receiver.of(first.id).length;
    const bad = await api(t.hub, 'POST', `${HUB}/${hubA.id}/replay`, PARTNER_A, { from: 'yesterday' });
    expect(bad.body).toMatchObject({ field: 'from' });
    const replay = await api(t.hub, 'POST', `${HUB}/${hubA.id}/replay`, PARTNER_A, { from: beforeFirst.toISOString() });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ generation: 1 });
    expect(replay.body.scheduled).toBeGreaterThanOrEqual(2);
    await until('the replayed delivery', () => receiver.of(first.id).length === before + 1);
    const rows = await deliveriesOfEvent(hubA.id, PARTNER_A, first.id);
    expect(rows.map((d) => [d.generation, d.status]).sort()).toEqual([
      [0, 'DELIVERED'],
      [1, 'DELIVERED'],
    ]);
    const sent = receiver.of(first.id).at(-1)!;
    expect(sent.event.id).toBe(first.id);
    expect(sent.headers['x-ledgerline-signature']).toBe(
      `sha256=${createHmac('sha256', hubA.secret).update(`${sent.headers['x-ledgerline-timestamp']}.${sent.body}`).digest('hex')}`,
    );
  });

  it('keeps partners to their own subscriptions; an admin sees them all', async () => {
    const listB = (await api(t.hub, 'GET', HUB, PARTNER_B)).body as any[];
    expect(listB.map((h) => h.id)).not.toContain(hubA.id);
    expect(listB.every((h) => h.partnerId === 'psp-b' && h.secret === undefined)).toBe(true);
    expect((await api(t.hub, 'GET', `${HUB}/${hubA.id}`, PARTNER_B)).status).toBe(404);
    expect((await api(t.hub, 'GET', `${HUB}/${hubA.id}/deliveries`, PARTNER_B)).status).toBe(404);
    expect((await api(t.hub, 'POST', `${HUB}/${hubA.id}/replay`, PARTNER_B, { from: beforeFirst.toISOString() })).status).toBe(404);
    const stolen = await api(t.hub, 'DELETE', `${HUB}/${hubA.id}`, PARTNER_B);
    expect(stolen.status).toBe(404);
    expect(stolen.body).toMatchObject({ code: 'HUB_NOT_FOUND' });
    expect((await api(t.hub, 'GET', `${HUB}/${hubA.id}`, PARTNER_A)).body).toMatchObject({ id: hubA.id, partnerId: 'crm-a' });
    const all = ((await api(t.hub, 'GET', HUB, ADMIN)).body as any[]).map((h) => h.partnerId);
    expect(all).toEqual(expect.arrayContaining(['crm-a', 'psp-b']));

    expect((await api(t.hub, 'DELETE', `${HUB}/${hubA.id}`, PARTNER_A)).status).toBe(204);
    expect((await api(t.hub, 'GET', `${HUB}/${hubA.id}`, PARTNER_A)).status).toBe(404);
    const after = await publishPing(t.messaging);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.of(after.id)).toHaveLength(0);
  });
});
