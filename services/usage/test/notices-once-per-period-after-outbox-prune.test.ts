/**
 * Notifications and offers are emitted once per line, period and template / offer, for good.
 *
 * A plan's notify and offer rules fire on every event while the usage is in their band
 * (allowanceUsedRatio >= 0.8: every DATA event past 80 % until the period ends). The outbox's
 * unique event id dropped the repeats only while the first row was in the outbox, and the relay
 * deletes published rows after OUTBOX_RETENTION_HOURS (72 h by default): in a 30-day bundle the
 * 80 % notice and the upsell offer were published again about every three days. Usage now
 * remembers what it emitted (emitted_event, written with the record that asked), so later events
 * of the period emit nothing again, in this process or after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_op${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100009701', account: `acc_op${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const record = async (eventId: string, quantity: string, occurredAt: string) => {
  const res = await svc.request(RECORD_USAGE, { input: { source: `op-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity, occurredAt }] } });
  expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
};

/** The line's notification and offer events in the outbox: template or offer code, and whether published. */
const emitted = async () =>
  (await db.query('select subject, payload, published_at from outbox where subject = any($1::text[]) order by seq', [[EVENTS.usageNotificationRequested.subject, EVENTS.usageOfferTriggered.subject]])).rows
    .map((r) => ({ data: JSON.parse(r.payload).data, published: r.published_at !== null }))
    .filter((e) => e.data.lineId === lineId)
    .map((e) => ({ what: e.data.template ?? e.data.offerCode, period: e.data.period, published: e.published }));

describe('notifications and offers once per line and period', () => {
  it('the 80 % notice and the upsell offer are not emitted again in the same period once their outbox rows were pruned', async () => {
    await record('e1', '8300', '2026-03-10T10:00:00Z'); // 81 % of 10,240 MB: notice + offer
    await record('e2', '100', '2026-03-10T11:00:00Z'); // still in the 80 % band
    const first = await waitFor(async () => {
      const e = await emitted();
      return e.length === 2 && e.every((x) => x.published) ? e : undefined;
    }, 15_000, 'the notice and the offer published');
    expect(first.map((e) => e.what).sort()).toEqual(['DATA_80_PERCENT', 'DATA_BOOST_5GB']);

    // Three days later the relay prunes what it published (OUTBOX_RETENTION_HOURS, 72 h by default).
    await svc.runtime.relay.prune(new Date(Date.now() + 1000));
    expect(await emitted()).toEqual([]);

    // Still the same allowance period (it runs to 1 April): the customer uses a little more data.
    await record('e3', '100', '2026-03-14T11:00:00Z');
    await record('e4', '100', '2026-03-17T11:00:00Z');
    expect(await emitted()).toEqual([]);

    // A restarted process (nothing in memory) on the same database: still nothing again.
    const restarted = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')), env: { USAGE_DB_SCHEMA: svc.schema } });
    try {
      const res = await restarted.request(RECORD_USAGE, { input: { source: `op-${run}`, records: [{ eventId: 'e5', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-18T11:00:00Z' }] } });
      expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
    } finally {
      await restarted.close(); // drops a schema of its own name, not this one
    }
    expect(await emitted()).toEqual([]);
  });
});
