import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

const SLOW = { role: 'PARTNER' as const, partnerId: 'slots-slow' };
const FAST = { role: 'PARTNER' as const, partnerId: 'slots-fast' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let fast: Awaited<ReturnType<typeof startReceiver>>;
const held: http.ServerResponse[] = [];
let hanging: http.Server;

beforeAll(async () => {
  // The default timeout (10 s) and concurrency (8): one partner's receiver accepts the POST and never answers.
  t = await startHubForTest({ EVENTS_HUB_TIMEOUT_MS: '10000' });
  fast = await startReceiver();
  hanging = http.createServer((_req, res) => held.push(res));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  // Answer what is held so the hub's attempts end and it can stop.
  for (const res of held) res.writeHead(200).end();
  hanging?.closeAllConnections();
  await new Promise<void>((resolve) => (hanging ? hanging.close(() => resolve()) : resolve()));
  await t?.close();
  await fast?.close();
});

describe('a partner that does not answer holds one of EVENTS_HUB_CONCURRENCY slots, not the other partners', () => {
  it("another partner's next event is delivered while the slow partner's POST is still waiting for its timeout", async () => {
    const slowHub = (await api(t.hub, 'POST', HUB, SLOW, { callback: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks`, query: 'eventType=SystemPingEvent' })).body;
    const fastHub = (await api(t.hub, 'POST', HUB, FAST, { callback: fast.url, query: 'eventType=SystemPingEvent' })).body;
    expect(slowHub.id && fastHub.id).toBeTruthy();

    const first = await publishPing(t.messaging);
    await until('the first event at both partners', () => held.length === 1 && fast.of(first.id).length === 1);

    // The slow partner's first POST stays open (for up to 10 s); seven slots are free.
    const second = await publishPing(t.messaging);
    const publishedAt = Date.now();
    await until('the second event at the fast partner', () => fast.of(second.id).length === 1, 8_000);
    expect(Date.now() - publishedAt).toBeLessThan(3_000);
    // The slow partner's second delivery went out in another slot, its first is still unanswered.
    await until("the slow partner's second POST", () => held.length === 2, 3_000);
    expect(held.every((res) => !res.writableEnded)).toBe(true);
  }, 30_000);

  it("a silent partner's backlog takes at most EVENTS_HUB_CONCURRENCY_PER_PARTNER workers: the other partner's events all go out meanwhile", async () => {
    // The hubs of the first case are still there: the silent partner holds its two POSTs, four slots per partner (8 / 2).
    expect(t.hub.config.concurrencyPerPartner).toBe(4);
    const before = held.length;
    const events: Awaited<ReturnType<typeof publishPing>>[] = [];
    for (let i = 0; i < 12; i++) events.push(await publishPing(t.messaging));
    const publishedAt = Date.now();
    await until('all twelve at the healthy partner', () => events.every((e) => fast.of(e.id).length === 1), 8_000);
    expect(Date.now() - publishedAt).toBeLessThan(4_000);
    // The silent partner got POSTs up to its share and no more while they are open (two of them from the first case).
    await until('the silent partner at its share', () => held.length >= 4, 3_000);
    await new Promise((r) => setTimeout(r, 500));
    expect({ openAtSilentPartner: held.filter((res) => !res.writableEnded).length, sentNow: held.length - before }).toEqual({ openAtSilentPartner: 4, sentNow: 2 });
  }, 30_000);
});
