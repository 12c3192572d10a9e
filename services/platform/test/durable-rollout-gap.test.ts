/**
 * A durable that starts at "new" (the events hub's webhook consumers: a hub gets the events
 * published after it) and is created by a deploy that renames or splits its host's consumers (the
 * hub's filters follow the subject registry: a work subject added under a service splits
 * `billing.x.>` into entity filters) must not miss what was published between the old consumer's
 * last acknowledgement and its own creation. Before, it started at "new": those events never
 * reached partners. Now it starts after the lowest acknowledgement of its host's existing
 * durables whose filters overlap its own (handlers are idempotent, so what they already had
 * again is harmless); with none (a first install, a subject space nobody read) it starts at "new".
 * A durable starting at "unread" (the hub's since session 30) over subjects none of its host's durables
 * read (a new event type, its producer deployed before the host's upgrade) starts where the host began
 * reading instead: before, it started at "new" and what the producer published meanwhile was never read.
 * A private nats-server: real JetStream, no other run's durables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { connectMessaging, type Messaging } from '../src/nats';
import { runDurableConsumers, filterCovers, filtersOverlap } from '../src/durable-consumer';
import { startPrivateNats } from '../src/testing';

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => logger } as never;
let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let messaging: Messaging;

beforeAll(async () => {
  nats = await startPrivateNats();
  messaging = await connectMessaging(nats.url, 'rollout-test');
}, 60_000);
afterAll(async () => {
  await messaging?.nc.close();
  await nats?.stop();
});

/** Runs `filters` as host `name`'s consumers starting at "new" (or `startAt`); collects what each gets. */
async function host(name: string, filters: string[], startAt: 'new' | 'unread' = 'new') {
  const got: string[] = [];
  const stop = await runDurableConsumers({ messaging, logger, name, throwaway: false }, filters.map((filter, i) => ({
    name: `c${i}_${filter.replace(/[.*>]/g, '')}`,
    filter,
    startAt,
    handle: async (messages: JsMsg[]) => void got.push(...messages.map((m) => m.string())),
  })));
  return { got, stop };
}

const publish = (subject: string, body: string) => messaging.js.publish(subject, body);
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('a durable starting at "new" after its host\'s consumers changed', () => {
  it('reads what was published since the old consumers last acknowledged, once the filters are split', async () => {
    const before = await host('hub_a', ['billing.svc.>']);
    await publish('billing.svc.thing.created', 'e1');
    await publish('billing.svc.other.created', 'e2');
    await settle();
    expect(before.got.sort()).toEqual(['e1', 'e2']);
    await before.stop(); // the old deployment stops; its durable stays, acknowledged up to e2

    await publish('billing.svc.thing.created', 'gap1'); // the rollout gap
    await publish('billing.svc.other.created', 'gap2');
    const after = await host('hub_a', ['billing.svc.thing.*', 'billing.svc.other.*']);
    await publish('billing.svc.thing.created', 'e3');
    await settle();
    await after.stop();
    expect(after.got.sort()).toEqual(['e3', 'gap1', 'gap2']);
  });

  it('starts at "new" with no overlapping durable of its host (first install, another host, another subject space)', async () => {
    await publish('billing.fresh.thing.created', 'old');
    const first = await host('hub_b', ['billing.fresh.>']);
    await publish('billing.fresh.thing.created', 'new');
    await settle();
    await first.stop();
    expect(first.got).toEqual(['new']);

    await publish('billing.elsewhere.thing.created', 'before-elsewhere');
    const other = await host('hub_b', ['billing.fresh.>', 'billing.elsewhere.>']); // a subject space nobody read: from now on
    await publish('billing.elsewhere.thing.created', 'after-elsewhere');
    await settle();
    await other.stop();
    expect(other.got).toEqual(['after-elsewhere']);
  });
});

describe('a durable starting at "unread" over subjects none of its host\'s durables read (a new event type, its producer deployed first)', () => {
  // Where the host began reading is its oldest durable's creation (server time); a publish just before it is older.
  it('reads what was published on them since the host began reading, once, and nothing its host had already', async () => {
    await publish('billing.newarea.thing.created', 'before-the-host'); // before the host's first install: not its to read
    const before = await host('hub_c', ['billing.old.thing.*', 'billing.quiet.>'], 'unread');
    await publish('billing.old.thing.created', 'had1');
    await publish('billing.old.thing.created', 'had2');
    await settle();
    expect(before.got.sort()).toEqual(['had1', 'had2']);
    // The producer of a new entity under the area, and of a new area, deployed before the host's upgrade.
    await publish('billing.old.newthing.created', 'early-entity');
    await publish('billing.newarea.thing.created', 'early-area');
    // Every durable of the host acknowledges after those: their progress says nothing about subjects they do not read.
    await publish('billing.old.thing.created', 'had3');
    await publish('billing.quiet.thing.created', 'had4');
    await settle();
    expect(before.got.sort()).toEqual(['had1', 'had2', 'had3', 'had4']);
    await before.stop();
    await publish('billing.old.newthing.created', 'gap-entity'); // the rollout gap
    await publish('billing.old.thing.created', 'gap-old');

    const after = await host('hub_c', ['billing.old.thing.*', 'billing.quiet.>', 'billing.old.newthing.*', 'billing.newarea.>'], 'unread');
    await publish('billing.newarea.thing.created', 'late-area');
    await settle();
    await after.stop();
    expect(after.got.sort()).toEqual(['early-area', 'early-entity', 'gap-entity', 'gap-old', 'late-area']);
  });

  it('a first install (no durable of its host) starts at "new"', async () => {
    await publish('billing.first.thing.created', 'before-install');
    const first = await host('hub_d', ['billing.first.>'], 'unread');
    await publish('billing.first.thing.created', 'after-install');
    await settle();
    await first.stop();
    expect(first.got).toEqual(['after-install']);
  });
});

describe('filtersOverlap', () => {
  it.each([
    ['billing.svc.>', 'billing.svc.thing.*', true],
    ['billing.svc.thing.*', 'billing.svc.thing.created', true],
    ['billing.svc.thing.*', 'billing.svc.other.*', false],
    ['billing.svc.>', 'billing.other.>', false],
    ['billing.*.thing.created', 'billing.svc.>', true],
    ['billing.svc', 'billing.svc.>', false],
  ])('%s and %s: %s', (a, b, overlap) => {
    expect(filtersOverlap(a, b)).toBe(overlap);
    expect(filtersOverlap(b, a)).toBe(overlap);
  });
});

describe('filterCovers', () => {
  it.each([
    ['billing.svc.>', 'billing.svc.thing.*', true],
    ['billing.svc.thing.*', 'billing.svc.>', false],
    ['billing.svc.thing.*', 'billing.svc.thing.created', true],
    ['billing.svc.thing.created', 'billing.svc.thing.*', false],
    ['billing.svc.thing.*', 'billing.svc.other.*', false],
    ['billing.*.thing.*', 'billing.svc.thing.created', true],
    ['billing.svc.thing.created', 'billing.svc.thing.created', true],
    ['billing.svc', 'billing.svc.>', false],
    ['billing.svc.>', 'billing.svc', false],
  ])('%s covers %s: %s', (outer, inner, covers) => {
    expect(filterCovers(outer, inner)).toBe(covers);
  });
});
