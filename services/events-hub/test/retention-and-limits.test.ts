import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, TEST_DATABASE_URL } from '@ledgerline/platform';
import { loadHubConfig } from '../src/config';
import { pruneDeliveries } from '../src/application/prune-deliveries';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const HOUR = 3_600_000;
const PARTNER = { role: 'PARTNER' as const, partnerId: 'retention-p' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let ok: Awaited<ReturnType<typeof startReceiver>>;
let failing: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  // One attempt: a failed delivery is DEAD at once.
  t = await startHubForTest({ EVENTS_HUB_MAX_ATTEMPTS: '1' });
  ok = await startReceiver();
  failing = await startReceiver();
  failing.status = 500;
});

afterAll(async () => {
  await t?.close();
  await ok?.close();
  await failing?.close();
});

async function deliveries(hubId: string, status: string): Promise<number> {
  const r = await api(t.hub, 'GET', `${HUB}/${hubId}/deliveries?status=${status}`, PARTNER);
  return Number(r.headers.get('x-total-count'));
}

/** Inserts a finished or pending delivery row directly, `at` being when it got its status. */
async function insertRow(hubId: string, status: 'PENDING' | 'DELIVERED' | 'DEAD', at: Date, n: number): Promise<void> {
  await t.hub.knex('webhook_delivery').insert({
    subscription_id: hubId,
    event_id: `direct-${status}-${at.getTime()}-${n}`,
    generation: 0,
    subject: 'billing.system.ping',
    event_type: 'SystemPingEvent',
    payload: '{}',
    status,
    attempts: status === 'PENDING' ? 0 : 1,
    next_attempt_at: at,
    created_at: at,
    delivered_at: status === 'DELIVERED' ? at : null,
  });
}

describe('retention settings', () => {
  it('EVENTS_HUB_RETENTION_HOURS defaults to 168 and EVENTS_HUB_DEAD_RETENTION_HOURS to 720; 0 keeps; a negative one is refused', () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL };
    expect(loadHubConfig(env).retention).toEqual({ deliveredHours: 168, deadHours: 720 });
    expect(loadHubConfig({ ...env, EVENTS_HUB_RETENTION_HOURS: '0', EVENTS_HUB_DEAD_RETENTION_HOURS: '0' }).retention).toEqual({
      deliveredHours: 0,
      deadHours: 0,
    });
    expect(() => loadHubConfig({ ...env, EVENTS_HUB_RETENTION_HOURS: '-1' })).toThrow(ConfigError);
    expect(() => loadHubConfig({ ...env, EVENTS_HUB_DEAD_RETENTION_HOURS: 'week' })).toThrow(/EVENTS_HUB_DEAD_RETENTION_HOURS/);
  });
});

describe('retention: finished deliveries are pruned', () => {
  it('the dispatcher deletes DELIVERED rows past EVENTS_HUB_RETENTION_HOURS and DEAD ones past EVENTS_HUB_DEAD_RETENTION_HOURS, on the clock passed in; PENDING stay', async () => {
    const good = (await api(t.hub, 'POST', HUB, PARTNER, { callback: ok.url, query: 'eventType=SystemPingEvent' })).body;
    const bad = (await api(t.hub, 'POST', HUB, PARTNER, { callback: failing.url, query: 'eventType=SystemPingEvent' })).body;
    expect(good.id && bad.id).toBeTruthy();
    // A pending delivery not due for a long time: never pruned, however old the clock gets.
    await insertRow(good.id, 'PENDING', new Date(t.clock.now().getTime() + 10_000 * HOUR), 0);
    await publishPing(t.messaging);
    await until('one DELIVERED and one DEAD', async () => (await deliveries(good.id, 'DELIVERED')) === 1 && (await deliveries(bad.id, 'DEAD')) === 1);

    t.clock.advance(167 * HOUR);
    t.hub.wake();
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveries(good.id, 'DELIVERED')).toBe(1);

    t.clock.advance(2 * HOUR);
    t.hub.wake();
    await until('the delivered row pruned', async () => (await deliveries(good.id, 'DELIVERED')) === 0);
    expect(await deliveries(bad.id, 'DEAD')).toBe(1);

    t.clock.advance(552 * HOUR); // 721 h after it died
    t.hub.wake();
    await until('the dead letter pruned', async () => (await deliveries(bad.id, 'DEAD')) === 0);
    expect(await deliveries(good.id, 'PENDING')).toBe(1);
  });

  it('deletes in bounded statements and reports whether more are left; 0 hours keeps that status', async () => {
    const h = (await api(t.hub, 'POST', HUB, PARTNER, { callback: ok.url, query: 'eventType=SystemPingEvent' })).body;
    // Far ahead of the hub's own clock, so its dispatcher never prunes these.
    const at = new Date(t.clock.now().getTime() + 5_000 * HOUR);
    for (let n = 0; n < 5; n++) await insertRow(h.id, 'DELIVERED', at, n);
    for (let n = 0; n < 3; n++) await insertRow(h.id, 'DEAD', at, n);
    const deps = { knex: t.hub.knex, logger: t.hub.logger };
    const later = new Date(at.getTime() + 1_000 * HOUR);

    const keepAll = await pruneDeliveries(deps, later, { deliveredHours: 0, deadHours: 0 }, { batch: 2, maxStatements: 10 });
    expect(keepAll).toEqual({ deleted: 0, more: false });
    expect(await deliveries(h.id, 'DELIVERED')).toBe(5);

    const first = await pruneDeliveries(deps, later, { deliveredHours: 168, deadHours: 0 }, { batch: 2, maxStatements: 2 });
    expect(first).toEqual({ deleted: 4, more: true });
    const second = await pruneDeliveries(deps, later, { deliveredHours: 168, deadHours: 0 }, { batch: 2, maxStatements: 2 });
    expect(second).toEqual({ deleted: 1, more: false });
    expect(await deliveries(h.id, 'DELIVERED')).toBe(0);
    expect(await deliveries(h.id, 'DEAD')).toBe(3);

    // Not old enough: 1000 h < 1001 h.
    expect(await pruneDeliveries(deps, later, { deliveredHours: 168, deadHours: 1001 }, { batch: 2, maxStatements: 10 })).toEqual({ deleted: 0, more: false });
    expect(await pruneDeliveries(deps, later, { deliveredHours: 168, deadHours: 999 }, { batch: 2, maxStatements: 10 })).toEqual({ deleted: 3, more: false });
  });
});

describe('a PARTNER token whose partnerId is longer than the hub stores', () => {
  it('is 403 HUB_FORBIDDEN naming partnerId (was a 500 from the database), on register and list alike', async () => {
    const long = { role: 'PARTNER' as const, partnerId: 'p'.repeat(101) };
    const r = await api(t.hub, 'POST', HUB, long, { callback: ok.url });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ '@type': 'Error', code: 'HUB_FORBIDDEN', reason: 'FORBIDDEN', status: '403', field: 'partnerId' });
    const list = await api(t.hub, 'GET', HUB, long);
    expect(list.status).toBe(403);
    expect(list.body).toMatchObject({ code: 'HUB_FORBIDDEN', field: 'partnerId' });
    // 100 characters is still a partner.
    const fits = await api(t.hub, 'POST', HUB, { role: 'PARTNER' as const, partnerId: 'p'.repeat(100) }, { callback: ok.url });
    expect(fits.status).toBe(201);
  });
});
