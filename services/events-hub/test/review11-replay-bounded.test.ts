import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review11-replay' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest({ EVENTS_HUB_REPLAY_MAX_EVENTS: '3' });
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('review 11: a replay is bounded (its events are held in memory): a partner cannot make the hub read the whole stream', () => {
  it('a replay that would read more than EVENTS_HUB_REPLAY_MAX_EVENTS is a 400 naming from, and schedules nothing', async () => {
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'subject=billing.catalog.system.ping' })).body;
    // On the hub's clock (frozen at its start): a wall-clock `from` is "in the future" to it once starting took over 1 s.
    const start = new Date(t.clock.now().getTime() - 1000);
    const events: Awaited<ReturnType<typeof publishPing>>[] = [];
    for (let i = 0; i < 4; i++) events.push(await publishPing(t.messaging));
    await until('the live deliveries', () => events.every((e) => receiver.of(e.id).length === 1));

    const tooMuch = await api(t.hub, 'POST', `${HUB}/${hub.id}/replay`, PARTNER, { from: start.toISOString() });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body).toMatchObject({ code: 'HUB_REPLAY_TOO_LARGE', field: 'from', status: '400' });
    // Nothing scheduled, no generation taken.
    expect((await t.hub.knex('webhook_delivery').where({ subscription_id: hub.id }).max({ g: 'generation' }))[0]).toMatchObject({ g: 0 });
  });
});
