import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, TEST_DATABASE_URL, TEST_NATS_URL, type Messaging } from '@ledgerline/platform';
import type { RunningHub } from '../src/service';
import type { HubDeps } from '../src/application/deps';
import { settleUnknownTypeEvents } from '../src/application/unknown-event-types';
import { recordAccountPartners, settleHeldEvents } from '../src/application/account-partners';
import { api, HUB, startReceiver, until } from './support';

/**
 * Review 31. An event of a type the hub does not know yet waits for OWN_CUSTOMERS partners up to
 * EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS (720); once the upgraded hub knows the type, one about an account not placed yet
 * waits for the account in `held_event` up to EVENTS_HUB_UNPLACED_HOLD_HOURS (24). It kept the time it was read as its
 * hold time there, so an upgrade more than a day after the producer's had the next minute pass drop it at once: the
 * partner never got it when its account was placed. The 24 h now count from the move; the hubs it goes to are still
 * those registered when it was read. Real PostgreSQL and NATS, local receivers.
 */
const RUN = randomBytes(4).toString('hex');
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const A = { role: 'PARTNER' as const, partnerId: `mvno-uth-${RUN}` };
const INVOICING = 'subject=billing.invoicing.>,billing.subscribers.>';
const HOUR_MS = 3_600_000;

const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
});

async function publishOn<T>(messaging: Messaging, subject: string, type: string, data: T, time: Date): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type, subject: RUN, time, data, key: [RUN, subject, randomBytes(6).toString('hex')] });
  await messaging.js.publish(subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

describe('an unknown-type event moved to held_event after a late upgrade', () => {
  it('waits EVENTS_HUB_UNPLACED_HOLD_HOURS from the move, and reaches the partner hubs of its read once placed', async () => {
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
    const messaging = await connectMessaging(TEST_NATS_URL, 'events-hub-review31-hold-test');
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
    const hub = old;
    closing.push(() => hub.close());

    const [rOps, rA, rLate] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
    closing.push(
      () => rOps.close(),
      () => rA.close(),
      () => rLate.close(),
    );
    const opsHub = (await api(hub, 'POST', HUB, ADMIN, { callback: rOps.url, query: '' })).body.id;
    const hubA = (await api(hub, 'POST', HUB, A, { callback: rA.url, query: INVOICING })).body.id;
    expect(opsHub && hubA).toBeTruthy();

    // A note about an account the hub has not placed (its billingaccount.created comes much later).
    const account = `ba_uth_${RUN}`;
    const cn = EVENTS.creditNoteCreated;
    const note = await publishOn(messaging, cn.subject, cn.type, { creditNoteId: `cn_${RUN}`, number: `CN-${RUN}`, invoiceId: `inv_${RUN}`, billingAccountId: account, kind: 'CREDIT', total: '-2.00', currency: 'EUR' }, clock.now());
    await until('the operator gets the note at once', () => rOps.of(note.id).length === 1);
    await until('held for A', async () => (await hub.knex('unknown_type_event').where({ event_id: note.id })).length === 1);
    const readAt = clock.now();

    // Ten days on (within the 720 h unknown-type hold) A registers a second hub: it was not there when the note was read.
    clock.advance(240 * HOUR_MS);
    const lateHub = (await api(hub, 'POST', HUB, A, { callback: rLate.url, query: INVOICING })).body.id;
    expect(lateHub).toBeTruthy();

    // The upgraded hub's pass (this file's modules know creditNoteCreated): the note now waits for its account.
    const metrics = { scheduled: () => undefined, unknownTypeDropped: () => undefined, unplacedDropped: () => undefined } as unknown as HubDeps['metrics'];
    const deps: HubDeps = { knex: hub.knex, clock, config: hub.config, logger: hub.logger, metrics, wake: hub.wake, callbackPolicy: { production: false, resolve: async () => [] } };
    expect(await settleUnknownTypeEvents(deps, clock.now())).toMatchObject({ released: 1 });
    const movedAt = clock.now();

    // The minute pass right after, and one 23 h later: within EVENTS_HUB_UNPLACED_HOLD_HOURS of the move, kept.
    expect(await settleHeldEvents(deps, clock.now())).toMatchObject({ dropped: 0 });
    const [held] = await hub.knex('held_event').where({ event_id: note.id });
    expect(new Date(held.held_at).getTime()).toBe(movedAt.getTime());
    expect(new Date(held.read_at).getTime()).toBe(readAt.getTime());
    clock.advance(23 * HOUR_MS);
    expect(await settleHeldEvents(deps, clock.now())).toMatchObject({ dropped: 0 });
    expect(await hub.knex('held_event').where({ event_id: note.id })).toHaveLength(1);

    // The account is opened at A (the upgraded hub's account consumer: the running one's registry lacks the note's
    // type, so it could not match it to a hub): the note reaches A's hub of its read, not the one registered after.
    const opened = createCloudEvent({
      source: 'ledgerline/subscribers',
      type: EVENTS.billingAccountCreated.type,
      subject: RUN,
      time: new Date(readAt.getTime() - 60_000),
      data: { billingAccountId: account, customerId: `cus_uth_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 },
      key: [RUN, 'opened'],
    });
    expect(await recordAccountPartners(deps, [{ subject: EVENTS.billingAccountCreated.subject, eventId: opened.id, type: opened.type, payload: JSON.stringify(opened) }])).toBe(1);
    await until("A gets its account's note", () => rA.of(note.id).length > 0);
    // (The operator's delivery of it may be pruned by now: retention keeps it only while the note is held.)
    const rows = await hub.knex('webhook_delivery').where({ event_id: note.id }).whereIn('subscription_id', [hubA, lateHub]).select('subscription_id');
    expect(rows.map((r: any) => r.subscription_id)).toEqual([hubA]);
    expect(rOps.of(note.id)).toHaveLength(1);
    expect(await hub.knex('held_event').where({ event_id: note.id })).toEqual([]);
  });
});
