import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { scrapeMetrics } from '@ledgerline/platform';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'oversized-p' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let ok: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest();
  ok = await startReceiver();
});
afterAll(async () => {
  await t?.close();
  await ok?.close();
});

describe('an event whose id is over 200 characters (a poison message)', () => {
  it('is dead-lettered with its reason, counted, and the rest of its batch is delivered', async () => {
    const h = (await api(t.hub, 'POST', HUB, PARTNER, { callback: ok.url, query: 'eventType=SystemPingEvent' })).body;
    expect(h.id).toBeTruthy();
    const long = createCloudEvent({ source: 'ledgerline/catalog', type: EVENTS.system.type, subject: 'events-hub-test', time: new Date(), data: { probe: 'long' }, key: ['k'] });
    long.id = `long-${randomBytes(4).toString('hex')}-${'x'.repeat(300)}`;
    await publishPing(t.messaging, long, `long-${randomBytes(8).toString('hex')}`);
    const fine = await publishPing(t.messaging);

    await until('the event after it delivered', async () => ok.of(fine.id).length === 1);
    await until('the long one dead-lettered', async () => {
      const r = await api(t.hub, 'GET', `${HUB}/${h.id}/deliveries?status=DEAD`, PARTNER);
      return Number(r.headers.get('x-total-count')) === 1;
    });
    const dead = await t.hub.knex('webhook_delivery').where({ subscription_id: h.id, status: 'DEAD' }).first();
    expect(dead.last_error).toMatch(/event id is 3\d\d characters, over 200/);
    expect(dead.payload).toBe(JSON.stringify(long));
    expect(ok.received.some((r) => r.body?.includes?.('"probe":"long"'))).toBe(false);
    const metrics = await scrapeMetrics({ url: `${t.hub.url}/metrics` });
    expect(metrics.ledgerline_events_hub_dead_letters).toBeGreaterThanOrEqual(1);
    expect(metrics['ledgerline_events_hub_events_set_aside_total{reason="event_id_too_long"}']).toBe(1);
  });
});

describe('an event whose id holds a NUL character (PostgreSQL text cannot)', () => {
  it('is dead-lettered with its reason and counted instead of failing its batch on every redelivery', async () => {
    const partner = { role: 'PARTNER' as const, partnerId: 'nul-id-p' };
    const h = (await api(t.hub, 'POST', HUB, partner, { callback: ok.url, query: 'eventType=SystemPingEvent' })).body;
    const nul = createCloudEvent({ source: 'ledgerline/catalog', type: EVENTS.system.type, subject: 'events-hub-test', time: new Date(), data: { probe: 'nul' }, key: ['k'] });
    nul.id = `nul-${randomBytes(4).toString('hex')}\u0000x`;
    await publishPing(t.messaging, nul, `nul-${randomBytes(8).toString('hex')}`);
    const fine = await publishPing(t.messaging);

    await until('the event after it delivered', async () => ok.of(fine.id).length >= 1);
    await until('the NUL one dead-lettered', async () => Number((await api(t.hub, 'GET', `${HUB}/${h.id}/deliveries?status=DEAD`, partner)).headers.get('x-total-count')) === 1);
    const dead = await t.hub.knex('webhook_delivery').where({ subscription_id: h.id, status: 'DEAD' }).first();
    expect(dead.event_id).toBe(nul.id.replace('\u0000', '\\u0000'));
    expect(dead.last_error).toMatch(/NUL character/);
    expect(dead.payload).toBe(JSON.stringify(nul));
    const metrics = await scrapeMetrics({ url: `${t.hub.url}/metrics` });
    expect(metrics['ledgerline_events_hub_events_set_aside_total{reason="nul_character"}']).toBe(1);
  });
});
