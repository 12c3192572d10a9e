import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

// A partner's share of the dispatcher is per partner, not per hub: a silent partner with two hubs (one per
// event type is the usual TMF688 pattern) on the same receiver held 2 × EVENTS_HUB_CONCURRENCY_PER_HUB = every
// worker, and every other partner waited for the timeout again.
const SILENT = { role: 'PARTNER' as const, partnerId: 'many-hubs-silent' };
const HEALTHY = { role: 'PARTNER' as const, partnerId: 'many-hubs-healthy' };

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

describe("a silent partner's hubs together hold at most its share of the workers", () => {
  it('two hubs of one silent partner do not take every worker: the other partner gets all its events meanwhile', async () => {
    const silentUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks`;
    for (const query of ['eventType=SystemPingEvent', 'subject=billing.catalog.system.ping']) {
      const created = await api(t.hub, 'POST', HUB, SILENT, { callback: silentUrl, query });
      expect(created.status).toBe(201);
    }
    expect((await api(t.hub, 'POST', HUB, HEALTHY, { callback: healthy.url, query: 'eventType=SystemPingEvent' })).status).toBe(201);
    expect(t.hub.config.concurrency).toBe(8);

    const events: Awaited<ReturnType<typeof publishPing>>[] = [];
    for (let i = 0; i < 12; i++) events.push(await publishPing(t.messaging));
    const publishedAt = Date.now();
    // Before: both silent hubs took four workers each (all eight, each POST open for 10 s), and the healthy
    // partner's events left after the first claim waited for those timeouts.
    await until('all twelve at the healthy partner', () => events.every((e) => healthy.of(e.id).length === 1), 9_000);
    expect(Date.now() - publishedAt).toBeLessThan(4_000);
    await until('the silent partner at its share', () => held.length >= 4, 3_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(held.filter((res) => !res.writableEnded).length).toBe(t.hub.config.concurrencyPerPartner);
  }, 30_000);
});
