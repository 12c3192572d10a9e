import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

// The share of one partner was a fixed half of the workers, so two partners whose receivers never answer (two of
// many partners down at once is ordinary) held all eight, and every other partner's events waited for their timeouts.
const SILENT = [
  { role: 'PARTNER' as const, partnerId: 'fair-share-silent-1' },
  { role: 'PARTNER' as const, partnerId: 'fair-share-silent-2' },
];
const HEALTHY = { role: 'PARTNER' as const, partnerId: 'fair-share-healthy' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let healthy: Awaited<ReturnType<typeof startReceiver>>;
const held: http.ServerResponse[] = [];
let hanging: http.Server;

beforeAll(async () => {
  // The default timeout (10 s), concurrency (8) and share (4).
  t = await startHubForTest({ EVENTS_HUB_TIMEOUT_MS: '10000' });
  healthy = await startReceiver();
  hanging = http.createServer((_req, res) => held.push(res));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const res of held) if (!res.writableEnded) res.writeHead(200).end();
  hanging?.closeAllConnections();
  await new Promise<void>((resolve) => (hanging ? hanging.close(() => resolve()) : resolve()));
  await t?.close();
  await healthy?.close();
});

const openAtSilent = () => held.filter((res) => !res.writableEnded).length;

describe('partners whose receivers never answer share the workers: they never hold all of them together', () => {
  it('two silent partners leave workers free: the healthy partner gets every event at once, also those published while the silent POSTs are open', async () => {
    const silentUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks`;
    for (const partner of SILENT) expect((await api(t.hub, 'POST', HUB, partner, { callback: silentUrl, query: 'eventType=SystemPingEvent' })).status).toBe(201);
    expect((await api(t.hub, 'POST', HUB, HEALTHY, { callback: healthy.url, query: 'eventType=SystemPingEvent' })).status).toBe(201);
    expect({ concurrency: t.hub.config.concurrency, perPartner: t.hub.config.concurrencyPerPartner }).toEqual({ concurrency: 8, perPartner: 4 });

    const burst: Awaited<ReturnType<typeof publishPing>>[] = [];
    for (let i = 0; i < 12; i++) burst.push(await publishPing(t.messaging));
    let publishedAt = Date.now();
    // Before: each silent partner took its four workers (all eight, each POST open for 10 s) and the healthy
    // partner's events waited for those timeouts (seen: 10.2 s for the twelve).
    await until('all twelve at the healthy partner', () => burst.every((e) => healthy.of(e.id).length === 1), 12_000);
    expect(Date.now() - publishedAt).toBeLessThan(4_000);

    // The silent partners take what the healthy one left, but together never every worker: an event published now,
    // with their POSTs still open, has a worker at once.
    await until('the silent partners at their shares', () => openAtSilent() >= 6, 3_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(openAtSilent()).toBeLessThan(t.hub.config.concurrency);
    const later: Awaited<ReturnType<typeof publishPing>>[] = [];
    for (let i = 0; i < 4; i++) later.push(await publishPing(t.messaging));
    publishedAt = Date.now();
    await until('the later events at the healthy partner', () => later.every((e) => healthy.of(e.id).length === 1), 12_000);
    expect(Date.now() - publishedAt).toBeLessThan(3_000);
    expect(held.length).toBeLessThan(t.hub.config.concurrency);
  }, 40_000);
});
