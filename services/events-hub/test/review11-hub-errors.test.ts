import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '@ledgerline/platform';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review11-p' };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest();
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('review 11: hub API errors are coded 4xx, never 500 or a wrong shape', () => {
  it('a delivery id that is not a number, or past bigint, is 404 WEBHOOK_DELIVERY_NOT_FOUND on retry (was a 500)', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url })).body;
    for (const id of ['abc', '99999999999999999999', '-1']) {
      const r = await api(t.hub, 'POST', `${HUB}/${hub.id}/deliveries/${id}/retry`, PARTNER);
      expect(r.status, id).toBe(404);
      expect(r.body, id).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND', field: 'deliveryId' });
    }
  });

  it('retrying a delivery that is not DEAD answers 409 with status "409" in the body (was overwritten by the delivery status)', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    const event = await publishPing(t.messaging);
    const delivered = await until('the delivery', async () => {
      const rows = (await api(t.hub, 'GET', `${HUB}/${hub.id}/deliveries`, PARTNER)).body as any[];
      return rows.find((d) => d.eventId === event.id && d.status === 'DELIVERED');
    });
    const r = await api(t.hub, 'POST', `${HUB}/${hub.id}/deliveries/${delivered.id}/retry`, PARTNER);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ '@type': 'Error', code: 'WEBHOOK_DELIVERY_ILLEGAL_TRANSITION', reason: 'CONFLICT', status: '409', deliveryStatus: 'DELIVERED' });
  });

  it('a query or path with a malformed %-escape is a 400 naming the field, not a 500', async () => {
    const q = await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=%E0%A4%A' });
    expect(q.status).toBe(400);
    expect(q.body).toMatchObject({ code: 'HUB_QUERY_INVALID', field: 'query' });
    const token = await signToken(PARTNER);
    const p = await fetch(`${t.hub.url}${HUB}/%E0%A4%A`, { headers: { authorization: `Bearer ${token}` } });
    expect(p.status).toBe(404);
    expect(await p.json()).toMatchObject({ code: 'HUB_NOT_FOUND' });
  });

  it('a method a hub route does not take answers 405 with status "405" in the body (was "404")', async () => {
    const r = await api(t.hub, 'PATCH', HUB, PARTNER, {});
    expect(r.status).toBe(405);
    expect(r.body).toMatchObject({ code: 'HUB_ROUTE_NOT_FOUND', status: '405' });
  });

  it('an over-long callback or partnerId is a 400 naming the field, not a 500 from the database', async () => {
    const long = await api(t.hub, 'POST', HUB, PARTNER, { callback: `${receiver.url}?${'a'.repeat(3000)}` });
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({ code: 'HUB_CALLBACK_INVALID', field: 'callback' });
    const partner = await api(t.hub, 'POST', HUB, ADMIN, { callback: receiver.url, partnerId: 'p'.repeat(101) });
    expect(partner.status).toBe(400);
    expect(partner.body).toMatchObject({ code: 'HUB_INPUT_INVALID', field: 'partnerId' });
  });
});
