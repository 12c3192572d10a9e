import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, TEST_DATABASE_URL, TEST_NATS_URL, type Messaging } from '@ledgerline/platform';
import type { RunningHub } from '../src/service';
import type { HubDeps } from '../src/application/deps';
import { settleUnknownTypeEvents } from '../src/application/unknown-event-types';
import { api, HUB, startReceiver, until } from './support';

/**
 * Review 31. An event of a type the hub does not know yet reaches the operator's (and ALL partners') hubs at once and
 * is held for OWN_CUSTOMERS partners for up to EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS (720); the release after the hub's
 * upgrade skips the hubs that had it by the unique (hub, event, generation) of their delivery. Retention deletes a
 * DELIVERED delivery after EVENTS_HUB_RETENTION_HOURS (168): an upgrade more than a week after the producer's sent
 * every such event to the operator's hubs a second time. Real PostgreSQL and NATS, local receivers.
 */
const RUN = randomBytes(4).toString('hex');
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const A = { role: 'PARTNER' as const, partnerId: `mvno-r31-${RUN}` };
const INVOICING = 'subject=billing.invoicing.>,billing.subscribers.>';
const DAY_MS = 24 * 3_600_000;

const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
});

async function publishOn<T>(messaging: Messaging, subject: string, type: string, data: T, time: Date): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type, subject: RUN, time, data, key: [RUN, subject, randomBytes(6).toString('hex')] });
  await messaging.js.publish(subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

describe('an unknown-type event held past the retention of its deliveries', () => {
  it('reaches the operator once: the upgraded hub releases it to the partner only', async () => {
    const schema = `t_${randomBytes(4).toString('hex')}_events_hub`;
    closing.push(() => dropSchema(schema));
    const clock = new ManualClock(new Date());
    const env = {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      EVENTS_HUB_DB_SCHEMA: schema,
      EVENTS_HUB_PORT: '0',
      EVENTS_HUB_POLL_MS: '50',
      EVENTS_HUB_TIMEOUT_MS: '2000',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    const messaging = await connectMessaging(TEST_NATS_URL, 'events-hub-review31-test');
    closing.push(() => messaging.nc.drain());

    // The hub before its upgrade: its contracts have no creditNoteCreated yet (the producer's have).
    vi.resetModules();
    vi.doMock('@ledgerline/contracts', async (importOriginal) => {
      const real = await importOriginal<typeof import('@ledgerline/contracts')>();
      const { creditNoteCreated: _unknownYet, ...older } = real.EVENTS;
      return { ...real, EVENTS: older };
    });
    let old: RunningHub | undefined;
    try {
      const before = (await import('../src/service')).startEventsHub;
      old = await before({ clock, env });
    } finally {
      vi.doUnmock('@ledgerline/contracts');
      vi.resetModules();
    }
    closing.push(() => old!.close());

    const [rOps, rA] = await Promise.all([startReceiver(), startReceiver()]);
    closing.push(() => rOps.close(), () => rA.close());
    const opsHub = (await api(old, 'POST', HUB, ADMIN, { callback: rOps.url, query: '' })).body.id;
    expect((await api(old, 'POST', HUB, A, { callback: rA.url, query: INVOICING })).status).toBe(201);

    const account = `ba_r31_${RUN}`;
    const opened = await publishOn(messaging, EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, { billingAccountId: account, customerId: `cus_r31_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, clock.now());
    await until('the account placed at A', () => rA.of(opened.id).length > 0);
    const cn = EVENTS.creditNoteCreated;
    const note = await publishOn(messaging, cn.subject, cn.type, { creditNoteId: `cn_${RUN}`, number: `CN-${RUN}`, invoiceId: `inv_${RUN}`, billingAccountId: account, kind: 'CREDIT', total: '-2.00', currency: 'EUR' }, clock.now());
    await until('the operator gets the note at once', () => rOps.of(note.id).length === 1);
    const delivered = () => old!.knex('webhook_delivery').where({ subscription_id: opsHub, event_id: note.id });
    await until('its delivery recorded DELIVERED', async () => (await delivered()).some((d: any) => d.status === 'DELIVERED'));
    expect(await old.knex('unknown_type_event').where({ event_id: note.id }).count({ n: '*' })).toEqual([{ n: '1' }]);

    // Eight days on (past EVENTS_HUB_RETENTION_HOURS = 168, within the 720 h hold): the minute pass applies retention.
    clock.advance(8 * DAY_MS);
    old.wake();
    await until('retention has run', async () => (await old!.knex('webhook_delivery').where({ subscription_id: opsHub, event_id: opened.id })).length === 0);

    // The upgraded hub's release (this file's modules know creditNoteCreated), on the running hub's database: the
    // note is decided for partner A. (A second hub process would re-read the shared stream from this run's start.)
    const hub = old;
    const metrics = { scheduled: () => undefined, unknownTypeDropped: () => undefined } as unknown as HubDeps['metrics'];
    const deps: HubDeps = { knex: hub.knex, clock, config: hub.config, logger: hub.logger, metrics, wake: hub.wake, callbackPolicy: { production: false, resolve: async () => [] } };
    expect(await settleUnknownTypeEvents(deps, clock.now())).toMatchObject({ released: 1 });
    await until("A gets its account's note", () => rA.of(note.id).length > 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(rOps.of(note.id)).toHaveLength(1);
    expect(await hub.knex('unknown_type_event').where({ event_id: note.id })).toEqual([]);
  });
});
