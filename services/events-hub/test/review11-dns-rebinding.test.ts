import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptDelivery } from '../src/application/dispatch-deliveries';
import type { HubDeps } from '../src/application/deps';
import { claimDueDeliveries, insertDeliveries } from '../src/persistence/store';
import { createHubMetrics } from '../src/metrics';
import client from 'prom-client';
import { api, HUB, startHubForTest, startReceiver } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review11-rebind' };

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  // The live dispatcher effectively off: this test claims and attempts the delivery itself.
  t = await startHubForTest({ EVENTS_HUB_POLL_MS: '3600000', EVENTS_HUB_RETRY_BASE_MS: '3600000' });
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('review 11: production attempts connect only to the addresses that were checked (DNS rebinding)', () => {
  it('a host whose check said "public" but which resolves to loopback at connect time is not POSTed to', async () => {
    // A host name this machine resolves to 127.0.0.1 (not `localhost`, which the name check refuses outright).
    const name = 'vm';
    const real = await lookup(name).catch(() => null);
    if (!real || real.address !== '127.0.0.1') return; // the set-up needs such a name; nothing to show without it
    const port = new URL(receiver.url).port;
    // Registered in development (http, local), then the hub row points at the rebinding name.
    const hub = (await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    await t.hub.knex('hub').where({ id: hub.id }).update({ callback: `http://${name}:${port}/hooks` });
    // The delivery stored directly (not through the stream, which would wake the live dispatcher).
    const event = { id: 'evt_review11_rebind', type: 'SystemPingEvent' };
    await insertDeliveries(
      t.hub.knex,
      [{ subscriptionId: hub.id, eventId: event.id, generation: 0, subject: 'billing.catalog.system.ping', eventType: event.type, payload: JSON.stringify(event) }],
      t.clock.now(),
    );

    let resolved = 0;
    // Production deps whose resolver answers a public address (the first DNS answer of a rebinding attacker).
    const deps: HubDeps = {
      knex: t.hub.knex,
      clock: t.clock,
      config: { ...t.hub.config, production: true, timeoutMs: 1500 },
      logger: t.hub.logger,
      metrics: createHubMetrics(new client.Registry(), () => t.hub.knex),
      callbackPolicy: {
        production: true,
        resolve: async () => {
          resolved++;
          return ['93.184.215.14'];
        },
      },
      wake: () => undefined,
    };
    t.clock.advance(1);
    const claimed = (await claimDueDeliveries(t.hub.knex, t.clock.now(), 50, new Date(t.clock.now().getTime() + 60_000))).filter(
      (d) => d.subscriptionId === hub.id,
    );
    expect(claimed).toHaveLength(1);
    await attemptDelivery(deps, claimed[0]!, () => 0.5);
    expect(receiver.of(event.id)).toHaveLength(0);
    const row = await t.hub.knex('webhook_delivery').where({ id: claimed[0]!.id }).first();
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(resolved).toBeGreaterThan(0); // the connection took its address from the checked resolution

    // And a resolution that is internal at attempt time refuses the attempt before any byte is sent.
    const internal: HubDeps = { ...deps, callbackPolicy: { production: true, resolve: async () => ['127.0.0.1'] } };
    await attemptDelivery(internal, { ...claimed[0]!, attempts: 1 }, () => 0.5);
    expect(receiver.of(event.id)).toHaveLength(0);
    const after = await t.hub.knex('webhook_delivery').where({ id: claimed[0]!.id }).first();
    expect(after).toMatchObject({ status: 'PENDING', attempts: 2 });
    expect(after.last_error).toContain('127.0.0.1');
  });
});
