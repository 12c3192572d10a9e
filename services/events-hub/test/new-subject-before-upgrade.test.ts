import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent } from '@ledgerline/contracts';
import { connectMessaging, dropSchema, ManualClock, startPrivateNats, TEST_DATABASE_URL, type Messaging } from '@ledgerline/platform';
import { startEventsHub, type RunningHub } from '../src/service';
import { api, HUB, startReceiver, until } from './support';

/**
 * A new event type under `billing.wallets` (or `billing.usage`), whose entity the hub reads through entity filters
 * beside work subjects it must not read, or in a new area: the hub before its upgrade has no consumer over its
 * subject, so what the producer (deployed first) publishes until the hub's upgrade is not read then. The upgraded
 * hub's new durable for it used to start at "new": those events never reached a hub. It now starts from the hub's
 * own progress (platform `runDurableConsumers`, `startAt: 'unread'`): they arrive once, and nothing the old hub
 * delivered is delivered again. Real PostgreSQL, a private nats-server (the hub's durables here are real ones, kept
 * across the restart, not a test run's throw-away consumers that start at the run's start), a local receiver.
 */
const RUN = randomBytes(4).toString('hex');
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
});

async function publishOn<T>(messaging: Messaging, subject: string, type: string, data: T): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/wallets', type, subject: RUN, time: new Date(), data, key: [RUN, subject, randomBytes(6).toString('hex')] });
  await messaging.js.publish(subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

const settle = () => new Promise((r) => setTimeout(r, 600));

describe('an event on a subject no consumer of the hub read before its upgrade', () => {
  it('reaches the hub once after the upgrade (published while the hub was old), and nothing is delivered twice', async () => {
    const nats = await startPrivateNats();
    closing.push(() => nats.stop());
    // Not `t_…`: a test schema makes throw-away consumers, which start at the run's start and would hide the gap.
    const schema = `upg_${RUN}_events_hub`;
    closing.push(() => dropSchema(schema));
    const clock = new ManualClock(new Date());
    const env = {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: nats.url,
      EVENTS_HUB_DB_SCHEMA: schema,
      EVENTS_HUB_PORT: '0',
      EVENTS_HUB_POLL_MS: '50',
      EVENTS_HUB_TIMEOUT_MS: '2000',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    const messaging = await connectMessaging(nats.url, 'events-hub-new-subject-test');
    closing.push(() => messaging.nc.drain());
    const receiver = await startReceiver();
    closing.push(() => receiver.close());

    // The hub before its upgrade: its contracts have no budget events yet, so no consumer over billing.wallets.budget.*.
    vi.resetModules();
    vi.doMock('@ledgerline/contracts', async (importOriginal) => {
      const real = await importOriginal<typeof import('@ledgerline/contracts')>();
      const { budgetReplenished: _unknownYet, ...older } = real.EVENTS;
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
    const names = async () => {
      const out: string[] = [];
      for await (const c of messaging.jsm.consumers.list('BILLING')) out.push(c.config.filter_subject ?? '');
      return out;
    };
    expect(await names()).not.toContain(EVENTS.budgetReplenished.subject.replace(/\.[^.]+$/, '.*'));
    // The operator's catch-all hub (empty query): it may see every event.
    expect((await api(old, 'POST', HUB, ADMIN, { callback: receiver.url, query: '' })).status).toBe(201);

    const low = EVENTS.balanceLow;
    const known = await publishOn(messaging, low.subject, low.type, { billingAccountId: `ba_${RUN}`, walletId: `w_${RUN}` });
    await until('the old hub delivers a type it knows', () => receiver.of(known.id).length > 0);
    const budget = EVENTS.budgetReplenished;
    // The producer is deployed first: its new event while the hub is old.
    const early = await publishOn(messaging, budget.subject, budget.type, { billingAccountId: `ba_${RUN}`, budgetId: `bud1_${RUN}` });
    await settle();
    expect(receiver.of(early.id)).toEqual([]);
    await old.close();
    // Between the old hub's stop and the upgraded one's start (the rollout gap) too.
    const gap = await publishOn(messaging, budget.subject, budget.type, { billingAccountId: `ba_${RUN}`, budgetId: `bud2_${RUN}` });

    const upgraded = await startEventsHub({ clock, env });
    closing.push(() => upgraded.close());
    const after = await publishOn(messaging, budget.subject, budget.type, { billingAccountId: `ba_${RUN}`, budgetId: `bud3_${RUN}` });
    await until('the upgraded hub delivers the new type', () => receiver.of(after.id).length > 0);
    await until('and what was published on it before the upgrade', () => receiver.of(early.id).length > 0 && receiver.of(gap.id).length > 0, 5_000);
    await settle();
    for (const e of [known, early, gap, after]) expect(receiver.of(e.id), e.id).toHaveLength(1);
    const rows = await upgraded.knex('webhook_delivery').whereIn('event_id', [known.id, early.id, gap.id, after.id]).orderBy('id').select('event_id');
    expect(rows.map((r: { event_id: string }) => r.event_id)).toEqual([known.id, early.id, gap.id, after.id]);
  }, 60_000);
});
