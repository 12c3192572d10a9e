/**
 * A replay holds what it reads in memory, bounded by EVENTS_HUB_REPLAY_MAX_EVENTS, checked against
 * the messages stored when the read begins. The reader used to follow the stream's pending count
 * as it grew, so events published during the replay were read too and a busy subject carried it
 * past the bound (they reach the hub live anyway). Now it reads what was stored at the check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_STREAM, EVENTS } from '@ledgerline/contracts';
import { streamReader } from '../src/events/event-consumer';
import { publishPing, startHubForTest } from './support';

let t: Awaited<ReturnType<typeof startHubForTest>>;
beforeAll(async () => {
  t = await startHubForTest();
});
afterAll(async () => {
  await t?.close();
});

describe('reading a replay', () => {
  it('stops at the messages stored when it began, while more are published', async () => {
    const from = new Date(Date.now() - 1);
    const stored = 5000;
    for (let i = 0; i < stored; i += 250) await Promise.all(Array.from({ length: 250 }, () => publishPing(t.messaging)));
    const read = streamReader(t.messaging, t.hub.logger, 1_000_000)([EVENTS.system.subject], from);
    // Published once the replay's consumer exists, during the read: they were read too, as long as they came.
    const replaying = async () => {
      for await (const c of await t.messaging.jsm.consumers.list(BILLING_STREAM.name)) if (c.name.startsWith('events_hub_replay_')) return true;
      return false;
    };
    while (!(await replaying())) await new Promise((r) => setTimeout(r, 1));
    let publishing = true;
    let during = 0;
    const publisher = (async () => {
      while (publishing) {
        await Promise.all(Array.from({ length: 50 }, () => publishPing(t.messaging)));
        during += 50;
      }
    })();
    const events = await read;
    publishing = false;
    await publisher;
    // A few may land between the consumer's creation and its count; the rest are left to the live route.
    expect({ during: during > 0, read: events.length >= stored && events.length <= stored + 200 }).toEqual({ during: true, read: true });
  }, 60_000);
});
