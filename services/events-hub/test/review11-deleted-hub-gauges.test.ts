import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review11-gauges' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let failing: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest({ EVENTS_HUB_MAX_ATTEMPTS: '1' });
  failing = await startReceiver();
  failing.status = 500;
});

afterAll(async () => {
  await t?.close();
  await failing?.close();
});

const gauge = async (name: string) => {
  const text = await (await fetch(`${t.hub.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{service="events-hub"\\} (\\d+)`, 'm').exec(text)?.[1]);
};

describe('review 11: a deleted hub no longer holds up the dead-letter gauge', () => {
  it('its dead letters (which nobody can retry any more) leave ledgerline_events_hub_dead_letters', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: failing.url, query: 'eventType=SystemPingEvent' })).body;
    const event = await publishPing(t.messaging);
    await until('the dead letter', async () =>
      ((await api(t.hub, 'GET', `${HUB}/${hub.id}/deliveries?status=DEAD`, PARTNER)).body as any[]).some((d) => d.eventId === event.id),
    );
    const before = await gauge('ledgerline_events_hub_dead_letters');
    expect(before).toBeGreaterThanOrEqual(1);
    expect((await api(t.hub, 'DELETE', `${HUB}/${hub.id}`, PARTNER)).status).toBe(204);
    // Its deliveries cannot be retried any more …
    expect((await api(t.hub, 'GET', `${HUB}/${hub.id}/deliveries`, PARTNER)).status).toBe(404);
    // … so they no longer count as dead letters waiting for someone.
    expect(await gauge('ledgerline_events_hub_dead_letters')).toBe(before - 1);
  });
});
