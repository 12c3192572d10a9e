import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchDue } from '../src/application/dispatch-deliveries';
import type { HubDeps } from '../src/application/deps';
import { createHubMetrics } from '../src/metrics';
import { insertDeliveries } from '../src/persistence/store';
import { api, HUB, startHubForTest, until } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review11-lease' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
const held: http.ServerResponse[] = [];
let hanging: http.Server;

beforeAll(async () => {
  // The live dispatcher effectively off (a pass at start only): the test runs a pass itself.
  t = await startHubForTest({ EVENTS_HUB_POLL_MS: '3600000' });
  hanging = http.createServer((_req, res) => held.push(res)); // a receiver that never answers
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await t?.close();
});

describe('review 11: the dispatcher lease covers every delivery of its batch, not only the first', () => {
  it('a delivery still queued behind a slow receiver is not due again (to another replica) before its claimer can have tried it', async () => {
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks`;
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: url })).body;
    const n = 40;
    await insertDeliveries(
      t.hub.knex,
      Array.from({ length: n }, (_, i) => ({
        subscriptionId: hub.id,
        eventId: `evt_review11_lease_${i}`,
        generation: 0,
        subject: 'billing.catalog.system.ping',
        eventType: 'SystemPingEvent',
        payload: JSON.stringify({ id: `evt_review11_lease_${i}` }),
      })),
      t.clock.now(),
    );
    const config = { ...t.hub.config, batchSize: n, concurrency: 1, concurrencyPerPartner: n, timeoutMs: 1000 };
    const deps: HubDeps = {
      knex: t.hub.knex,
      clock: t.clock,
      config,
      logger: t.hub.logger,
      metrics: createHubMetrics(new client.Registry(), () => t.hub.knex),
      callbackPolicy: { production: false, resolve: async () => [] },
      wake: () => undefined,
    };
    const claimedAt = t.clock.now().getTime();
    const pass = dispatchDue(deps);
    await until('the first POST', () => held.length > 0);
    // One at a time, each up to the timeout: the last of the batch may be tried n × timeout after the claim.
    // Only this test's deliveries: the subscription takes every event, and another test run on the same NATS may publish meanwhile.
    const rows = await t.hub.knex('webhook_delivery').where({ subscription_id: hub.id }).andWhereLike('event_id', 'evt_review11_lease_%');
    expect(rows).toHaveLength(n);
    for (const r of rows) expect(new Date(r.next_attempt_at).getTime() - claimedAt).toBeGreaterThanOrEqual(n * config.timeoutMs);
    // Let the pass finish fast: the receiver goes away, the remaining attempts are refused at once.
    hanging.closeAllConnections();
    await new Promise<void>((resolve) => hanging.close(() => resolve()));
    await pass;
  }, 60_000);
});
